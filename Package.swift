// swift-tools-version:6.0
import PackageDescription

// Every Swift target is compiled for x86-64 with AVX2 and FMA (Haswell and later, every
// AMD Zen): Terrain's kernels are written with 8-lane Float SIMD and fused multiply-adds,
// and one instruction set on every machine is part of what makes results bit-identical
// across CPUs (docs/architecture.md, "Same bits on every CPU"). Other architectures build
// with the compiler's defaults.
#if arch(x86_64)
let kernelFlags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let kernelFlags: [SwiftSetting] = []
#endif

let package = Package(
    name: "Terrain",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "terrain", targets: ["terrain"]),
        .library(name: "TerrainCore", targets: ["TerrainCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-collections", exact: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        // The HTTP side (issue 13): the live page, its JSON API and /metrics, in TerrainWeb only.
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        // Hummingbird's own dependency, named for NIOPosix: the HTTP server's single event-loop thread.
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .systemLibrary(
            name: "CHDF5",
            pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]
        ),
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        .target(name: "TerrainCore", swiftSettings: kernelFlags),
        .target(name: "TerrainProtocol"),
        .target(name: "TerrainWire", dependencies: ["CZeroMQ", "TerrainProtocol", .product(name: "Logging", package: "swift-log")]),
        .target(name: "TerrainDataset", dependencies: [.product(name: "GRDB", package: "GRDB.swift")]),
        .target(name: "TerrainSweeps", dependencies: ["TerrainCore", "TerrainDataset", "TerrainExport", .product(name: "Yams", package: "Yams")]),
        .target(
            name: "TerrainCoordinator",
            dependencies: [
                "TerrainSweeps", "TerrainProtocol", "TerrainWire", "TerrainDataset",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(name: "TerrainWorker", dependencies: ["TerrainSweeps", "TerrainProtocol", "TerrainWire", .product(name: "Logging", package: "swift-log")]),
        .target(name: "TerrainExport", dependencies: ["TerrainCore", "CHDF5"]),
        // The HTTP server (live page, JSON API, /metrics) and the one-file HTML report. The only
        // target on SwiftNIO: it reads the dataset and the coordinator's published snapshots.
        .target(
            name: "TerrainWeb",
            dependencies: [
                "TerrainSweeps", "TerrainDataset", "TerrainExport", "TerrainCoordinator",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        .executableTarget(
            name: "terrain",
            dependencies: [
                "TerrainCore", "TerrainSweeps", "TerrainDataset", "TerrainCoordinator", "TerrainWorker", "TerrainExport",
                "TerrainWeb",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "terrain-bench",
            dependencies: ["TerrainCore", "TerrainSweeps", "TerrainDataset", "TerrainCoordinator", "TerrainWire", "TerrainWeb", "CBLAS"],
            path: "bench", swiftSettings: kernelFlags),
        .target(
            name: "TerrainTestSupport",
            dependencies: ["TerrainDataset", .product(name: "GRDB", package: "GRDB.swift")],
            path: "Tests/TerrainTestSupport"),
        .testTarget(name: "TerrainCoreTests", dependencies: ["TerrainCore", "TerrainSweeps", "CBLAS"], exclude: ["Fixtures"],
                    swiftSettings: kernelFlags),
        .testTarget(name: "TerrainSweepsTests", dependencies: ["TerrainSweeps", "TerrainCore", "TerrainDataset", "TerrainExport"]),
        .testTarget(name: "TerrainProtocolTests", dependencies: ["TerrainProtocol"]),
        .testTarget(name: "TerrainWireTests", dependencies: ["TerrainWire"]),
        .testTarget(name: "TerrainExportTests", dependencies: ["TerrainExport", "TerrainCore", "CHDF5"]),
        .testTarget(
            name: "TerrainCoordinatorTests",
            dependencies: ["TerrainCoordinator", "TerrainWorker", "TerrainWire", "TerrainSweeps", "TerrainCore", "TerrainDataset",
                           "TerrainTestSupport"],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "TerrainWebTests",
            dependencies: ["TerrainWeb", "TerrainCoordinator", "TerrainSweeps", "TerrainDataset", "TerrainTestSupport"],
            exclude: ["Browser"]),
        .testTarget(name: "TerrainDatasetTests", dependencies: ["TerrainDataset", "TerrainTestSupport"]),
        .testTarget(
            name: "TerrainWorkerTests",
            dependencies: ["TerrainWorker", "TerrainProtocol", "TerrainSweeps", "TerrainCore", .product(name: "Logging", package: "swift-log")]),
    ]
)
