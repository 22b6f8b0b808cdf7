import ArgumentParser
import ConsoleUI
import Foundation
import KeyCodec
import ExternalStorage
import BackupFormat
import ClusterAPI
import RestoreDrills

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Produce a sample backup, create a 3-store cluster, and restore it with a few faults injected.",
        discussion: "The backup is kept in DIR/backup and reused; the cluster in DIR/cluster is made anew each run."
    )

    @OptionGroup var metrics: MetricsOptions

    @OptionGroup var logging: LogOptions

    @Option(name: .long, help: "The demo's data directory.")
    var dir = "restore-console-demo"

    @Flag(name: .long, help: "No terminal UI: progress lines on stderr.")
    var headless = false

    @Flag(name: .customLong("no-faults"), help: "Do not inject faults.")
    var noFaults = false

    @Option(name: .long, help: "Download rate limit per store (K, M, G), which paces the demo; 0 = unlimited.")
    var rate = "1M"

    @Option(name: .long, help: "Rows per table of the sample backup (4 tables, one index each).")
    var rows = 50_000

    @Flag(name: .long, help: "Print a JSON summary on stdout at the end.")
    var json = false

    @Option(name: .long, help: "Console theme: default, light, solarized-dark, high-contrast, mono, or a .toml path.")
    var theme = "default"

    func validate() throws {
        do { _ = try Theme.load(theme) } catch { throw ValidationError(error.description) }
    }

    func run() async throws {
        let root = (dir as NSString).standardizingPath
        let backupDir = root + "/backup", clusterDir = root + "/cluster"
        FileHandle.standardError.write(Data("demo: its backup and cluster live in \(root) (--dir chooses another place)\n".utf8))
        let storage = LocalStorage(root: backupDir)
        if (try? BackupReader(storage: storage).read()) == nil {
            try? FileManager.default.removeItem(atPath: backupDir)
            var options = BackupProducer.Options()
            options.tables = 4
            options.rows = rows
            options.indexes = 1
            options.fileSize = 1 << 20
            FileHandle.standardError.write(Data("demo: writing a sample backup of \(4 * rows * 2) keys to \(backupDir)\n".utf8))
            try BackupProducer(storage: storage, options: options).produce()
        }
        try? FileManager.default.removeItem(atPath: clusterDir)
        var arguments = try RestoreArguments.parse(["--storage", backupDir, "--cluster", clusterDir, "--rate", rate, "--merge-size", "2M"])
        arguments.stores = 3
        arguments.replicas = 3
        let endpoint = try await metrics.start()
        let options = try arguments.options()
        let target = RestoreDestination.embedded(try await RestoreDestination.openEmbedded(arguments, options: options))
        let engine = try await target.prepareEngine(storage: storage, options: options, insecureTLS: false)
        engine.logEvents(to: try logging.start(in: target.stateDirectory))
        var faults: (@Sendable () async -> Void)?
        if !noFaults { faults = { @Sendable in await DemoFaults().run(against: engine) } }
        let code = await ConsoleRunner.run(engine, display: DisplayOptions(headless: headless, json: json, theme: theme, drills: true), during: faults)
        await metrics.finish(endpoint)
        await target.close()
        if code != 0 { throw RestoreExit(code: code) }
    }
}
