/// Trains the control point θ_C of a curve between two fixed end points θ_A and θ_B
/// (Garipov et al. 2018): each step draws t ~ U(0, 1) from Terrain's RNG, sets the working
/// model to φ(t) (``PathShape``), takes the gradient g of the mini-batch loss there and
/// updates θ_C with ∂L/∂θ_C = w_C(t)·g through the configured optimizer and schedule. The
/// end points never move.
///
/// Deterministic and resumable like ``Trainer``: step k's batch, t and dropout masks depend
/// only on (seed, k), so a run restored at step k (``resume(atStep:)``, with θ_C and the
/// optimizer state restored) continues exactly as the uninterrupted one. BatchNorm layers of
/// the working model normalize with batch statistics while training (their running
/// statistics are not meaningful along a curve: re-estimate them per t to evaluate).
public final class CurveTrainer<Scalar: TensorScalar> {
    /// The working model: φ(t) is written into it for every step.
    public let model: Model<Scalar>
    /// A model of the same architecture whose parameters hold θ_C (what the optimizer updates).
    public let bend: Model<Scalar>
    /// The curve's shape (``PathShape/bezier`` or ``PathShape/chain``).
    public let shape: PathShape
    /// The configuration (SAM is not supported).
    public let config: TrainingConfig
    /// The training data.
    public let train: Dataset<Scalar>
    /// The optimizer over θ_C.
    public let optimizer: Optimizer<Scalar>
    /// The data order.
    public let batches: BatchSchedule
    /// Optimizer steps taken so far.
    public private(set) var step = 0
    private let a: [Scalar], b: [Scalar]
    private let workSpace: ParameterSpace<Scalar>

    /// Prepares training of a curve from `a` to `b` (flat ``ParameterSpace`` vectors of
    /// `model`); θ_C starts at the midpoint ½(θ_A + θ_B), so the untrained curve is the line.
    /// Throws for a line, a SAM optimizer, or vectors that do not fit the model.
    public init(model: Model<Scalar>, bend: Model<Scalar>, shape: PathShape, a: [Scalar], b: [Scalar],
                train: Dataset<Scalar>, config: TrainingConfig) throws {
        guard shape.hasBend else { throw TerrainError.invalidArgument("a line has no control point to train") }
        guard config.optimizer.samRho == nil else { throw TerrainError.invalidArgument("optimizer.sam_rho: curve training does not use SAM") }
        try config.optimizer.validate()
        try config.schedule.validate()
        let space = ParameterSpace(model)
        guard a.count == space.dimension, b.count == space.dimension, ParameterSpace(bend).dimension == space.dimension else {
            throw TerrainError.invalidArgument("curve end points have \(a.count) and \(b.count) entries, the model \(space.dimension)")
        }
        self.model = model
        self.bend = bend
        self.shape = shape
        self.config = config
        self.train = train
        self.a = a
        self.b = b
        workSpace = space
        ParameterSpace(bend).setValues((0..<a.count).map { Scalar(0.5 * Double(a[$0]) + 0.5 * Double(b[$0])) })
        optimizer = config.optimizer.make(for: bend.parameters)
        batches = try BatchSchedule(count: train.count, batchSize: config.batchSize, seed: config.seed)
    }

    /// Total steps of the configured run, `epochs × ⌈N / batch⌉`.
    public var totalSteps: Int { config.epochs * batches.stepsPerEpoch }

    /// The learning rate at step `k`.
    public func learningRate(at k: Int) -> Double {
        config.schedule.rate(base: config.optimizer.lr, batchSize: config.batchSize, step: k,
                             totalSteps: totalSteps, stepsPerEpoch: batches.stepsPerEpoch)
    }

    /// The t that step `k` trains at: uniform on [0, 1), from stream k of the run's t seed.
    public func t(at k: Int) -> Double {
        var rng = TerrainRNG(seed: TerrainRNG.derive(config.seed, "curve-t"), stream: UInt64(k))
        return rng.uniform()
    }

    /// Continues from a checkpoint's step (θ_C and the optimizer state restored by the caller).
    public func resume(atStep k: Int, optimizerSteps: Int) {
        step = k
        optimizer.stepCount = optimizerSteps
    }

    /// θ_C as a flat vector.
    public func bendValues() -> [Scalar] { ParameterSpace(bend).values() }

    /// Writes φ(t) into the working model.
    public func setPoint(_ t: Double) {
        workSpace.setValues(shape.point(t, a: a, bend: bendValues(), b: b))
    }

    /// Takes one optimizer step on the batch of the current step at its t; the result's
    /// loss is the mini-batch loss at φ(t) before the update.
    @discardableResult
    public func trainStep() -> StepResult {
        let k = step
        let t = t(at: k)
        setPoint(t)
        let idx = batches.indices(step: k)
        let (x, y) = train.trainingBatch(idx, seed: config.seed, epoch: k / batches.stepsPerEpoch)
        model.zeroGradients()
        let out = model.forward(x, context: .train(seed: config.seed, step: UInt64(k)))
        let l = config.loss.evaluate(logits: out, targets: y, normalizer: y.count, wantGradient: true)
        model.backward(l.gradient!)
        let w = Scalar(shape.weights(t).bend)
        for (q, p) in zip(bend.parameters, model.parameters) {
            q.grad = Tensor(shape: p.grad.shape, storage: p.grad.storage.map { $0 * w })
        }
        let lr = learningRate(at: k)
        optimizer.step(lr: lr)
        step += 1
        return StepResult(step: k, loss: l.lossSum / Double(l.count), correct: l.correct, count: l.count, learningRate: lr)
    }
}
