// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "restore-console",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "restore-console", targets: ["restore-console"]),
        .executable(name: "restore-bench", targets: ["restore-bench"]),
        .library(name: "RestoreKit", targets: ["RestoreKit"]),
        .library(name: "ConsoleUI", targets: ["ConsoleUI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.28.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0", traits: ["UnstableSortedCollections"]),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
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
            dependencies: ["RestoreKit", "CNCursesW", .product(name: "TOMLKit", package: "TOMLKit")]
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
            dependencies: ["RestoreKit", "ConsoleUI", "CRocksDB"]
        ),
        .testTarget(
            name: "RestoreKitTests",
            dependencies: [
                "RestoreKit",
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
