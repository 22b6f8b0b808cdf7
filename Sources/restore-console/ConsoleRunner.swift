import ConsoleUI
import Foundation
import KeyCodec
import ClusterAPI
import RestoreDriver
import RestoreDrills

/// Options that choose between the console and the headless printer.
struct DisplayOptions {
    var headless: Bool
    var json: Bool
    var theme: String
    var drills: Bool

    /// The console needs a terminal on both ends.
    var useConsole: Bool { !headless && isatty(STDOUT_FILENO) == 1 && isatty(STDIN_FILENO) == 1 }
}

enum ConsoleRunner {
    /// Runs the restore under the console or the headless printer; returns the exit code.
    /// `setBack`: what to undo on the cluster before a quit ends the process with work in flight.
    /// `stop`: SIGINT and SIGTERM for the headless printer (the console watches its own).
    static func run(
        _ engine: RestoreEngine, display: DisplayOptions, during: (@Sendable () async -> Void)? = nil, stop: StopRequest? = nil,
        setBack: (@Sendable () async -> Void)? = nil
    ) async -> Int32 {
        guard display.useConsole else { return await RestoreCommand.runHeadless(engine, json: display.json, during: during, stop: stop) }
        let command = CommandLine.arguments.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
        let result = RestoreResultBox()
        let restore = Task {
            let outcome = await engine.run()
            result.outcome = outcome
            return outcome
        }
        let side = during.map { body in Task { await body() } }
        // ncurses is driven by one thread of its own, never by the cooperative pool.
        let ui: Result<Bool, ThemeError> = await withCheckedContinuation { continuation in
            let (theme, drills) = (display.theme, display.drills ? EngineDrills(engine) : nil)
            let thread = Thread {
                let app = ConsoleApp(engine: engine, theme: theme, drills: drills, result: result)
                continuation.resume(returning: Result { () throws(ThemeError) in try app.run() })
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        side?.cancel()
        switch ui {
        case let .failure(error):
            FileHandle.standardError.write(Data("restore-console: \(error)\n".utf8))
            return 2
        case .success(true):
            let s = engine.monitor.snapshot()
            let percent = s.totalBytes > 0 ? Double(s.doneBytes) * 100 / Double(s.totalBytes) : 0
            FileHandle.standardError.write(Data("""
                restore stopped at \(String(format: "%.1f", percent))%; its progress is checkpointed in \(engine.stateDirectory)/checkpoints.
                Resume with the same command:
                  \(command)

                """.utf8))
            // Work is still in flight: stop here, as a crash would, once the cluster's import mode,
            // speed limit and PD's schedulers are set back. The checkpoint and the stores' Raft
            // logs carry everything over to the resume, which the kill -9 test proves.
            // The restore's calls are cancelled first: they hold the stores' connections, where
            // the calls that set the cluster back would otherwise queue behind them.
            restore.cancel()
            await setBack?()
            exit(1)
        case .success(false):
            return RestoreCommand.printSummary(engine, outcome: await restore.value, json: display.json)
        }
    }
}
