import ArgumentParser
import ConsoleUI
import Foundation
import KeyCodec
import ExternalStorage
import ClusterAPI
import EmbeddedCluster
import RestoreDriver

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a BR backup into an embedded cluster or a TiKV cluster (--pd), and watch it.",
        discussion: """
            Exit codes: 0 everything restored and the checksum matched; 1 some regions failed or the \
            checksum did not match; 2 bad input or usage, or a precheck failed (nothing is written); 3 a store panicked.
            The same command resumes an interrupted restore from its checkpoint.
            """
    )

    @OptionGroup var arguments: RestoreArguments

    @Flag(name: .long, help: "No terminal UI: progress lines on stderr.")
    var headless = false

    @Flag(name: .long, help: "Print a JSON summary on stdout at the end.")
    var json = false

    @Option(name: .long, help: "Console theme: default, light, solarized-dark, high-contrast, mono, or a .toml path.")
    var theme = "default"

    @OptionGroup var metrics: MetricsOptions

    @OptionGroup var logging: LogOptions

    @Flag(name: .customLong("dry-run"), help: "Read the backup and the cluster, print the plan and the prechecks, and exit without writing anything (exit 2 when a check fails).")
    var dryRun = false

    @Flag(name: .long, help: "Enable the console's fault drills (store down/up, leader move, split, busy).")
    var drills = false

    func validate() throws {
        do { _ = try Theme.load(theme) } catch { throw ValidationError(error.description) }
        guard !(drills && arguments.pd != nil) else { throw ValidationError("--drills needs an embedded cluster (--cluster): a TiKV cluster offers no fault drills") }
    }

    func run() async throws {
        let storage = try arguments.storageOptions.open(arguments.storage)
        let options = try arguments.options()
        let inputs: RestoreInputs
        let target: RestoreDestination
        let stop: StopRequest
        do {
            // Everything is read and checked before anything is written.
            let surveyed = try await DestinationSurvey.survey(arguments, options: options, storage: storage)
            do { inputs = try await RestoreInputs.read(storage: storage, survey: surveyed.survey, stateDirectory: surveyed.stateDirectory, options: options) } catch {
                await surveyed.close()
                throw StartFailure(error.description)
            }
            let preview = await RestorePreview.make(inputs: inputs, storage: storage, survey: surveyed.survey, options: options, extraChecks: surveyed.checks)
            if dryRun {
                await surveyed.close()
                print(json ? PlanPrinter.json(preview) : PlanPrinter.text(preview), terminator: "")
                if !preview.passed { throw RestoreExit(code: 2) }
                return
            }
            guard preview.passed else {
                await surveyed.close()
                for check in preview.checks where check.status == .failed { FileHandle.standardError.write(Data("precheck \(check.name) failed: \(check.message)\n".utf8)) }
                throw StartFailure("a precheck failed, and nothing was written (restore --dry-run shows the plan and every check)")
            }
            // From here on the cluster is changed (PD's schedulers, the checkpoint claimed): a
            // signal stops the restore and sets the cluster back.
            stop = StopRequest.watch()
            target = try await surveyed.open(arguments, options: options, pauseSchedulers: !arguments.keepSchedulers)
        }
        let endpoint: MetricsEndpoint?
        do { endpoint = try await metrics.start() } catch {
            await target.close()
            throw error
        }
        let engine = try await target.prepareEngine(storage: storage, options: options, insecureTLS: arguments.storageOptions.insecureSkipTLSVerify, inputs: inputs)
        engine.logEvents(to: try logging.start(in: target.stateDirectory))
        if stop.requested {
            // Stopped before anything was restored: what the start changed is set back.
            await metrics.finish(endpoint)
            await target.close()
            FileHandle.standardError.write(Data("restore stopped before it began\n".utf8))
            throw RestoreExit(code: 1)
        }
        let display = DisplayOptions(headless: headless, json: json, theme: theme, drills: drills)
        let code = await ConsoleRunner.run(engine, display: display, stop: stop, setBack: { await target.setBack() })
        await metrics.finish(endpoint)
        await target.close()
        if code != 0 { throw RestoreExit(code: code) }
    }

    /// Runs a restore with the headless printer and prints the summary; returns the exit code.
    /// `stop`: a signal stops it as a quit does: in-flight work ends, the cluster is set back
    /// (normal mode, no speed limit), and the summary says stopped.
    static func runHeadless(_ engine: RestoreEngine, json: Bool, during: (@Sendable () async -> Void)? = nil, stop: StopRequest? = nil) async -> Int32 {
        let printer = HeadlessPrinter(engine: engine)
        let printing = Task { await printer.run() }
        let side = during.map { body in Task { await body() } }
        let restore = Task { await engine.run() }
        stop?.onStop { restore.cancel() }
        let outcome = await restore.value
        side?.cancel()
        printing.cancel()
        _ = await printing.value
        printer.flush()
        if printer.onTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
        return printSummary(engine, outcome: outcome, json: json)
    }

    /// Prints a finished restore's mismatches, panics and summary line on stderr, and the JSON
    /// summary on stdout when asked; returns the exit code.
    static func printSummary(_ engine: RestoreEngine, outcome: RestoreEngine.Outcome, json: Bool) -> Int32 {
        let summary = RestoreSummary(engine: engine, outcome: outcome)
        for mismatch in summary.checksum_mismatches { FileHandle.standardError.write(Data("checksum mismatch: \(mismatch)\n".utf8)) }
        for (store, reason) in summary.store_panics.sorted(by: { $0.key < $1.key }) {
            FileHandle.standardError.write(Data("store \(store) PANICKED: \(reason)\n".utf8))
        }
        FileHandle.standardError.write(Data((summary.line + "\n").utf8))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            // Written through, not buffered to the exit: the process may linger to serve metrics.
            if let data = try? encoder.encode(summary) { FileHandle.standardOutput.write(data + Data("\n".utf8)) }
        }
        return summary.exit_code
    }
}

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Rerun the checksum of a restore: the cluster's data against the backup's figures."
    )

    @OptionGroup var arguments: RestoreArguments

    func run() async throws {
        let storage = try arguments.storageOptions.open(arguments.storage)
        let options = try arguments.options()
        let target = try await DestinationSurvey.survey(arguments, options: options, storage: storage).open(arguments, options: options)
        let engine = try await target.prepareEngine(storage: storage, options: options, insecureTLS: arguments.storageOptions.insecureSkipTLSVerify)
        let matched = await engine.verifyChecksum() == .matched
        for event in engine.monitor.snapshot().events where event.level != .info || matched { print(event.message) }
        await target.close()
        if !matched { throw RestoreExit(code: 1) }
    }
}
