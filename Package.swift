// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "restore-console",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "restore-console", targets: ["restore-console"]),
        .executable(name: "restore-bench", targets: ["restore-bench"]),
        .executable(name: "restore-chaos", targets: ["restore-chaos"]),
        .library(name: "ConsoleUI", targets: ["ConsoleUI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.28.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0", traits: ["UnstableSortedCollections"]),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
    ],
    targets: [
        // Thin C++17 shim over RocksDB's SstFileWriter, SstFileReader and DB (the C API has no SST reader).
        .target(
            name: "CRocksDB",
            linkerSettings: [.linkedLibrary("rocksdb"), .linkedLibrary("stdc++")]
        ),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl"),
        .systemLibrary(name: "CNCursesW"),
        .systemLibrary(name: "CCrypto"),
        // The layers, bottom to top; each depends only on those below it, so the compiler rejects
        // an upward import (Tests/LayerTests checks that it does).
        .target(name: "Failpoints"),
        .target(name: "KeyCodec", dependencies: ["Failpoints", "CRocksDB"]),
        .target(name: "ExternalStorage", dependencies: ["Failpoints", "KeyCodec", "CCurl", "CCrypto"]),
        .target(
            name: "BackupFormat",
            dependencies: ["KeyCodec", "ExternalStorage", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        // The seam between the driver and any cluster: kvproto-shaped operations, types and errors.
        .target(name: "ClusterAPI", dependencies: ["KeyCodec", "ExternalStorage"]),
        .target(
            name: "EmbeddedCluster",
            dependencies: [
                "Failpoints", "KeyCodec", "ExternalStorage", "BackupFormat", "ClusterAPI", "CRocksDB",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "SortedCollections", package: "swift-collections"),
            ]
        ),
        // The driver reaches a cluster only through ClusterAPI's `ClusterClient`.
        .target(name: "RestoreDriver", dependencies: ["Failpoints", "KeyCodec", "ExternalStorage", "BackupFormat", "ClusterAPI"]),
        // Fault drills and campaigns (chaos schedules, the demo's faults): only the embedded
        // cluster offers them, and the driver does not depend on them.
        .target(name: "RestoreDrills", dependencies: ["RestoreDriver", "ClusterAPI", "EmbeddedCluster", "KeyCodec", "ExternalStorage", "BackupFormat"]),
        .target(
            name: "ConsoleUI",
            dependencies: ["KeyCodec", "ClusterAPI", "RestoreDriver", "RestoreDrills", "CNCursesW"]
        ),
        .executableTarget(
            name: "restore-console",
            dependencies: [
                "Failpoints", "KeyCodec", "ExternalStorage", "BackupFormat", "ClusterAPI", "EmbeddedCluster", "RestoreDriver", "RestoreDrills",
                "ConsoleUI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "restore-bench",
            dependencies: ["Failpoints", "KeyCodec", "ExternalStorage", "BackupFormat", "ClusterAPI", "EmbeddedCluster", "RestoreDriver", "RestoreDrills", "ConsoleUI", "CRocksDB", "LoopbackServer"]
        ),
        // Starts the Python servers of scripts/test-servers for tests, benchmarks and campaigns.
        .target(name: "LoopbackServer"),
        // The parsers that take outside input, as fuzz targets; restore-fuzz drives them with
        // libFuzzer (make fuzz) or replays a corpus (Docs/RELIABILITY.md).
        .target(name: "FuzzTargets", dependencies: ["KeyCodec", "ExternalStorage", "BackupFormat", "ClusterAPI", "RestoreDriver", "ConsoleUI"]),
        .executableTarget(name: "restore-fuzz", dependencies: ["FuzzTargets"]),
        // Seeded chaos and crash-resume campaigns (Docs/RELIABILITY.md).
        .executableTarget(
            name: "restore-chaos",
            dependencies: ["Failpoints", "KeyCodec", "ExternalStorage", "BackupFormat", "ClusterAPI", "EmbeddedCluster", "RestoreDriver", "RestoreDrills", "LoopbackServer", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(
            name: "RestoreKitTests",
            dependencies: [
                "Failpoints", "KeyCodec", "ExternalStorage", "BackupFormat", "ClusterAPI", "EmbeddedCluster", "RestoreDriver", "RestoreDrills",
                "FuzzTargets",
                "LoopbackServer",
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .testTarget(
            name: "ConsoleUITests",
            dependencies: ["ConsoleUI", "Failpoints", "KeyCodec", "ExternalStorage", "BackupFormat", "ClusterAPI", "EmbeddedCluster", "RestoreDriver", "RestoreDrills"]
        ),
    ],
    swiftLanguageModes: [.v6],
    cxxLanguageStandard: .cxx17
)
