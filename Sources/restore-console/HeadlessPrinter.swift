import Foundation
import Synchronization
import KeyCodec
import ClusterAPI
import RestoreDriver

/// Prints a restore's progress without a terminal UI: a status line a second (redrawn in place on a
/// terminal) and every warning and error event as it happens.
final class HeadlessPrinter: Sendable {
    let engine: RestoreEngine
    let onTerminal = isatty(STDERR_FILENO) == 1
    /// Events printed so far.
    private let seen = Mutex(0)

    init(engine: RestoreEngine) { self.engine = engine }

    func run() async {
        while !Task.isCancelled {
            flush()
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Prints the events not printed yet and one status line.
    func flush() {
        let s = engine.monitor.snapshot()
        let fresh = seen.withLock { count in
            defer { count = s.eventCount }
            return max(0, min(s.events.count, s.eventCount - count))
        }
        var out = ""
        for event in s.events.suffix(fresh) {
            if onTerminal { out += "\r\u{1B}[K" }
            let region = event.regionID.map { "r\($0) " } ?? ""
            out += "[\(event.level.rawValue)] \(region)\(event.message)\n"
        }
        if onTerminal { out += "\r\u{1B}[K" }
        out += Self.statusLine(s)
        out += onTerminal ? "" : "\n"
        FileHandle.standardError.write(Data(out.utf8))
    }

    static func statusLine(_ s: RestoreSnapshot) -> String {
        let percent = s.totalBytes > 0 ? Double(s.doneBytes) * 100 / Double(s.totalBytes) : 0
        let counts = RegionPhase.allCases.compactMap { phase in (s.counts[phase] ?? 0) > 0 ? "\(s.counts[phase]!) \(phase.rawValue)" : nil }.joined(separator: " ")
        let eta = s.eta.map { " ETA \(Int($0))s" } ?? ""
        return "[\(s.phase.rawValue)] \(String(format: "%.1f", percent))% \(ByteFormat.size(s.doneBytes))/\(ByteFormat.size(s.totalBytes)) "
            + "\(s.doneKVs)/\(s.totalKVs) kvs \(ByteFormat.rate(s.bytesPerSecond)) | regions \(counts)\(eta)"
    }
}

