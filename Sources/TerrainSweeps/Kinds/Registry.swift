/// The task kinds built into this binary: what a worker can run and what a coordinator can
/// tabulate. Adding a kind means adding its type here (and its folder).
public enum TaskKinds {
    /// One instance of every kind.
    public static func all() -> [any TaskKind] {
        [ProbeKind(), SurfaceKind(), HessianKind(), TrainKind(), DirectionsKind(), LotteryKind(), RunKind(),
         ModeRunKind(), BendKind(), PathKind()]
    }

    /// Every kind by its wire name.
    public static func byName() -> [String: any TaskKind] {
        Dictionary(uniqueKeysWithValues: all().map { ($0.name, $0) })
    }
}

/// The sweep kinds a spec's `kind:` may name, each expanding into tasks of one or more task
/// kinds and describing its results to `terrain status`, `export` and `render`.
public enum SweepKinds {
    /// Every sweep kind, in the order error messages list them.
    public static let all: [any SweepKind.Type] = [ProbeSpec.self, SurfaceSpec.self, LotterySpec.self, TrainingGridSpec.self,
                                                  ConnectivitySpec.self, InstabilitySpec.self]

    /// The names a spec's `kind:` may take.
    public static var names: [String] { all.map { $0.name } }

    /// The sweep kind named `name`.
    public static func named(_ name: String) -> (any SweepKind.Type)? { all.first { $0.name == name } }
}
