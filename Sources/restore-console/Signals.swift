import Dispatch
import Foundation
import Synchronization

/// Signal handlers on Dispatch: the signal's default action is off while they are installed.
enum Signals {
    static func on(_ signals: [Int32], _ body: @escaping @Sendable () -> Void) -> [any DispatchSourceSignal] {
        signals.map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler(handler: body)
            source.resume()
            return source
        }
    }
}

/// SIGINT and SIGTERM during a restore, from its start: the first asks the restore to stop as a
/// quit does (the cluster set back, the progress checkpointed), whenever it comes, also before
/// the restore has begun; a second one ends the process at once (exit 130).
final class StopRequest: Sendable {
    private struct State {
        var signals = 0
        var onStop: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    /// Installs the handlers; they stay for the life of the process.
    static func watch() -> StopRequest {
        let request = StopRequest()
        let sources = Signals.on([SIGINT, SIGTERM]) { request.received() }
        // Sources are kept alive by Dispatch only while referenced: leak them on purpose.
        _ = Unmanaged.passRetained(SourceBox(sources))
        return request
    }

    var requested: Bool { state.withLock { $0.signals > 0 } }

    /// Runs `body` when a stop is asked for: now, if one was asked for already.
    func onStop(_ body: @escaping @Sendable () -> Void) {
        let now = state.withLock { state in
            state.onStop = body
            return state.signals > 0
        }
        if now { body() }
    }

    private func received() {
        let (count, body) = state.withLock { state in
            state.signals += 1
            return (state.signals, state.onStop)
        }
        if count > 1 { Foundation.exit(130) }
        body?()
    }

    private final class SourceBox {
        let sources: [any DispatchSourceSignal]
        init(_ sources: [any DispatchSourceSignal]) { self.sources = sources }
    }
}
