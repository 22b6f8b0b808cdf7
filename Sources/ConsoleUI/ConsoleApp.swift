import Dispatch
import Foundation
import KeyCodec
import ClusterAPI
import RestoreDriver
import Synchronization

/// The ncurses console: one thread reads input with a timeout, applies it, takes the engine's
/// snapshot, renders into a `ScreenBuffer` and writes the cells that changed.
public final class ConsoleApp {
    let engine: RestoreEngine
    let drills: (any OperatorDrills)?
    var controller: ConsoleController
    let result: RestoreResultBox
    let ordering = LiveOrdering()

    /// Create it on the thread that runs it: it is not shared between threads.
    /// `drills`: the fault drills its keys start, if the cluster offers them.
    public init(engine: RestoreEngine, theme: String, drills: (any OperatorDrills)?, result: RestoreResultBox) {
        self.engine = engine
        self.drills = drills
        controller = ConsoleController(drills: drills != nil, theme: theme)
        self.result = result
    }

    /// Runs until the operator quits or a signal arrives. Returns true when the operator quit
    /// before the restore finished. Restores the terminal on every path.
    public func run() throws(ThemeError) -> Bool {
        let theme = try Theme.load(controller.state.themeName)
        let terminal = Terminal(theme: theme)
        defer { terminal.stop() }
        let signals = SignalWatch([SIGINT, SIGTERM, SIGHUP])
        var themeShown = controller.state.themeName
        var priority = WorkerPriority.Keeper()
        while !controller.state.quitting {
            if signals.fired { break }
            priority.tick()
            let snapshot = engine.monitor.snapshot()
            let done = result.outcome
            if let done, !controller.state.finished {
                controller.state.finished = true
                controller.state.message = Self.describe(done)
            }
            controller.tableRows = DashboardView.tableRows(height: terminal.height, stores: snapshot.stores.count)
            ordering.update(&controller, with: snapshot)
            if controller.state.themeName != themeShown {
                themeShown = controller.state.themeName
                if let next = try? Theme.load(themeShown) { terminal.setTheme(next) }
            }
            var view = DashboardView(snapshot: snapshot, state: controller.state, order: controller.order, unicode: terminal.unicode)
            if controller.state.overlay == .history {
                let lines = EventHistoryOverlay.visibleLines(height: terminal.height)
                view.history = engine.monitor.history(matching: controller.state.historySearch, count: lines, fromEnd: controller.state.historyScroll)
                // Scrolled past the oldest: stay at the top.
                controller.state.historyScroll = min(controller.state.historyScroll, max(0, view.history.matches - lines))
            }
            if controller.state.finished, controller.state.message == nil, let done { view.state.message = Self.describe(done) }
            terminal.draw(view.render(width: terminal.width, height: terminal.height))
            guard let key = terminal.readKey() else { continue }
            if key == .resize { continue }
            for command in controller.handle(key, snapshot: snapshot, rate: engine.rateLimit) { apply(command) }
        }
        return controller.state.quitting && !controller.state.finished || signals.fired
    }

    static func describe(_ outcome: RestoreEngine.Outcome) -> String {
        switch outcome {
        case .success: "restore finished: every region ingested, checksum match.  q quits"
        case let .regionsFailed(n): "\(n) regions failed: R retries them, q quits (the same command resumes)"
        case .checksumMismatch: "restore finished with a CHECKSUM MISMATCH (see events).  q quits"
        case .checksumUnread: "every region ingested, but the CHECKSUM COULD NOT BE READ (see events); verify takes it again.  q quits"
        case .stopped: "restore stopped; the same command resumes it.  q quits"
        case let .storePanicked(panics): "store \(panics.keys.sorted().map(String.init).joined(separator: ", ")) PANICKED (see stores).  q quits"
        }
    }

    func apply(_ command: ConsoleCommand) {
        let engine = self.engine
        switch command {
        case let .pause(id): engine.pause(region: id)
        case let .resume(id): engine.resume(region: id)
        case .pauseAll: engine.pauseAll()
        case .resumeAll: engine.resumeAll()
        case let .retry(id): Task { await engine.retry(region: id) }
        case .retryFailed: Task { await engine.retryFailed() }
        case let .setRate(rate): engine.setRateLimit(rate)
        case let .storeDown(store): Task { [drills] in await drills?.storeDown(store) }
        case .allStoresUp: Task { [drills] in await drills?.allStoresUp() }
        case let .transferLeader(id): Task { [drills] in await drills?.transferLeader(region: id) }
        case let .split(id): Task { [drills] in await drills?.split(region: id) }
        case let .busy(store): drills?.busy(store: store, for: .seconds(3))
        case .quit: break
        }
    }
}

/// The restore's outcome, set by the engine's task and read by the console's thread.
public final class RestoreResultBox: Sendable {
    private let value = Mutex<RestoreEngine.Outcome?>(nil)

    public init() {}

    public var outcome: RestoreEngine.Outcome? {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}

/// Watches signals without handlers that could run at an unsafe moment: the loop polls `fired`.
final class SignalWatch {
    private var sources: [DispatchSourceSignal] = []
    private let flag = NSLock()
    private var hit = false

    init(_ signals: [Int32]) {
        for sig in signals {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in
                self?.flag.lock()
                self?.hit = true
                self?.flag.unlock()
            }
            source.resume()
            sources.append(source)
        }
    }

    var fired: Bool {
        flag.lock()
        defer { flag.unlock() }
        return hit
    }

    deinit { sources.forEach { $0.cancel() } }
}
