import Foundation
import Testing
@testable import TestSupport

/// The layers are SwiftPM targets whose dependencies point down only, so the compiler rejects an
/// upward import. These tests read the package's own graph: every library target sits in the
/// order below, depends only on targets before it, and has a test target of its name that builds
/// with it and what is below it. They also build a copy of the package with an upward import to
/// see the compiler refuse it.
@Suite(.serialized) struct LayerTests {
    /// Every library target, bottom to top.
    static let layers = [
        "LoopbackServer", "Failpoints", "KeyCodec", "ExternalStorage", "KVProto", "KVProtoGRPC", "BackupFormat", "ClusterAPI", "EmbeddedCluster",
        "KVWire", "RemoteCluster", "ClusterServer", "RestoreDriver", "RestoreDrills", "ConsoleUI", "FuzzTargets",
    ]
    /// The C and C++ shims, tested through the Swift layer that wraps each (CRocksDB through
    /// KeyCodec's SST tests and EmbeddedCluster's database tests).
    static let shims: Set = ["CRocksDB", "CCurl", "CNCursesW", "CCrypto", "CLZMA"]
    /// What several test targets share; each sits at the level of its highest dependency.
    static let support: Set = ["TestSupport", "RestoreTestSupport"]
    /// The product's own tests: the binary as an operator runs it, above every layer.
    static let productTests = "RestoreConsoleTests"

    struct Target {
        let name: String
        let type: String
        let dependencies: [String]
    }

    static func targets() throws -> [String: Target] {
        // A copy of the manifest: the running tests hold the lock of the repository's own build.
        let copy = try TemporaryDirectory("restore-console-manifest")
        try FileManager.default.copyItem(atPath: repositoryRoot + "/Package.swift", toPath: copy.file("Package.swift"))
        let out = try runProgram("swift", ["package", "--package-path", copy.path, "dump-package"])
        #expect(out.status == 0, "\(out.stderr)")
        let package = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
        let targets = try #require(package["targets"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: targets.compactMap { target in
            guard let name = target["name"] as? String, let type = target["type"] as? String else { return nil }
            let dependencies = (target["dependencies"] as? [[String: Any]] ?? []).compactMap { dependency in
                ((dependency["byName"] ?? dependency["target"]) as? [Any])?.first as? String
            }
            return (name, Target(name: name, type: type, dependencies: dependencies))
        })
    }

    /// The level of a target: its place in `layers`, or a support target's highest dependency.
    static func level(_ name: String, in targets: [String: Target]) -> Int? {
        if let level = layers.firstIndex(of: name) { return level }
        guard support.contains(name), let target = targets[name] else { return nil }
        return target.dependencies.compactMap { level($0, in: targets) }.max() ?? 0
    }

    @Test func eachLayerDependsOnlyOnLayersBelowIt() throws {
        let targets = try Self.targets()
        let libraries = targets.values.filter { $0.type == "regular" && !Self.shims.contains($0.name) && !Self.support.contains($0.name) }
        #expect(Set(libraries.map(\.name)) == Set(Self.layers), "every library target has its place in the order")
        for (level, layer) in Self.layers.enumerated() {
            let target = try #require(targets[layer], "no target \(layer)")
            for dependency in target.dependencies where Self.layers.contains(dependency) {
                #expect(Self.layers.firstIndex(of: dependency)! < level, "\(layer) depends on \(dependency), which is not below it")
            }
        }
    }

    @Test func eachLayerHasItsTestTargetWhichUsesNothingAboveIt() throws {
        let targets = try Self.targets()
        for (level, layer) in Self.layers.enumerated() {
            let tests = try #require(targets[layer + "Tests"], "\(layer) has no test target \(layer)Tests")
            #expect(tests.type == "test")
            #expect(tests.dependencies.contains(layer), "\(layer)Tests does not depend on \(layer)")
            for dependency in tests.dependencies {
                guard let dependencyLevel = Self.level(dependency, in: targets) else { continue }  // packages
                #expect(dependencyLevel <= level, "\(layer)Tests depends on \(dependency), which is above \(layer)")
            }
        }
        let testTargets = Set(targets.values.filter { $0.type == "test" }.map(\.name))
        #expect(testTargets == Set(Self.layers.map { $0 + "Tests" } + [Self.productTests]), "no test target stands apart from the layers")
    }

    @Test func anUpwardImportDoesNotCompile() throws {
        let copy = try TemporaryDirectory("restore-console-layers")
        for item in ["Package.swift", "Sources", "Tests"] {
            try FileManager.default.copyItem(atPath: repositoryRoot + "/" + item, toPath: copy.file(item))
        }
        func build() throws -> CommandOutput {
            try runProgram("swift", ["build", "--package-path", copy.path, "--target", "KeyCodec", "--explicit-target-dependency-import-check", "error"])
        }
        let control = try build()
        #expect(control.status == 0, "the copy builds as it is: \(control.stdout.suffix(800))")

        let file = copy.file("Sources/KeyCodec/Keys/Bytes.swift")
        try ("import ExternalStorage\n" + String(contentsOfFile: file, encoding: .utf8)).write(toFile: file, atomically: true, encoding: .utf8)
        let upward = try build()
        #expect(upward.status != 0)
        let output = upward.stdout + upward.stderr
        #expect(output.contains("no such module 'ExternalStorage'") || output.contains("imports another target (ExternalStorage)"), "\(output.suffix(800))")
    }
}
