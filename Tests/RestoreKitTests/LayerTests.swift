import Foundation
import Testing

/// The layers are SwiftPM targets whose dependencies point down only, so the compiler rejects an
/// upward import. These tests read the package's own graph, and build a copy of the package with
/// an upward import to see the compiler refuse it.
@Suite(.serialized) struct LayerTests {
    /// Bottom to top.
    static let layers = ["Failpoints", "KeyCodec", "ExternalStorage", "BackupFormat", "EmbeddedCluster", "RestoreDriver", "RestoreDrills"]

    @Test func eachLayerDependsOnlyOnLayersBelowIt() throws {
        // A copy of the manifest: the running tests hold the lock of the repository's own build.
        let copy = try TemporaryDirectory("restore-console-manifest")
        try FileManager.default.copyItem(atPath: repositoryRoot + "/Package.swift", toPath: copy.file("Package.swift"))
        let out = try runProgram("swift", ["package", "--package-path", copy.path, "dump-package"])
        #expect(out.status == 0, "\(out.stderr)")
        let package = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
        let targets = try #require(package["targets"] as? [[String: Any]])
        for (level, layer) in Self.layers.enumerated() {
            let target = try #require(targets.first { $0["name"] as? String == layer }, "no target \(layer)")
            let dependencies = (target["dependencies"] as? [[String: Any]] ?? []).compactMap { dependency in
                ((dependency["byName"] ?? dependency["target"]) as? [Any])?.first as? String
            }
            for dependency in dependencies where Self.layers.contains(dependency) {
                #expect(Self.layers.firstIndex(of: dependency)! < level, "\(layer) depends on \(dependency), which is not below it")
            }
        }
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
