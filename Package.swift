// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "restore-console",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "restore-console", targets: ["restore-console"]),
        .executable(name: "restore-bench", targets: ["restore-bench"]),
        .executable(name: "restore-chaos", targets: ["restore-chaos"]),
        .library(name: "RestoreKit", targets: ["RestoreKit"]),
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
        .target(
            name: "RestoreKit",
            dependencies: [
                "CRocksDB", "CCurl", "CCrypto",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "SortedCollections", package: "swift-collections"),
            ]
        ),
        .target(
            name: "ConsoleUI",
            dependencies: ["RestoreKit", "CNCursesW"]
        ),
        .executableTarget(
            name: "restore-console",
            dependencies: [
                "RestoreKit",
                "ConsoleUI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "restore-bench",
            dependencies: ["RestoreKit", "ConsoleUI", "CRocksDB", "LoopbackServer"]
        ),
        // Starts the Python servers of scripts/test-servers for tests, benchmarks and campaigns.
        .target(name: "LoopbackServer"),
        // The parsers that take outside input, as fuzz targets; restore-fuzz drives them with
        // libFuzzer (make fuzz) or replays a corpus (Docs/RELIABILITY.md).
        .target(name: "FuzzTargets", dependencies: ["RestoreKit", "ConsoleUI"]),
        .executableTarget(name: "restore-fuzz", dependencies: ["FuzzTargets"]),
        // Seeded chaos and crash-resume campaigns (Docs/RELIABILITY.md).
        .executableTarget(
            name: "restore-chaos",
            dependencies: ["RestoreKit", "LoopbackServer", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(
            name: "RestoreKitTests",
            dependencies: [
                "RestoreKit",
                "FuzzTargets",
                "LoopbackServer",
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .testTarget(
            name: "ConsoleUITests",
            dependencies: ["ConsoleUI", "RestoreKit"]
        ),
    ],
    swiftLanguageModes: [.v6],
    cxxLanguageStandard: .cxx17
)
