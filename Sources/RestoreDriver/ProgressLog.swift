import Foundation
import Synchronization
import Logging
import ClusterAPI

/// The restore's events as structured log records (swift-log), once a logger is attached: phase
/// changes, splits, downloads and ingests with their region, store, files and attempt, retries
/// with their reason, store state changes, pauses, resumes, manual retries and everything the
/// console's Events panel shows. Progress percentages and samples are left out: they are not events.
final class ProgressLog: Sendable {
    private struct State {
        var logger: Logger?
        /// The plan's file sets, by id, to name an attempt's files.
        var fileSets: [FileSet] = []
        var storeStates: [UInt64: StoreState] = [:]
        var attempts: [UInt64: Int] = [:]
    }

    private let state = Mutex(State())

    func attach(_ logger: Logger, fileSets: [FileSet]) {
        state.withLock {
            $0.logger = logger
            $0.fileSets = fileSets
        }
    }

    /// The end of a run, with the summary's figures.
    func record(_ summary: RestoreSummary) {
        guard let logger = state.withLock({ $0.logger }) else { return }
        logger.log(level: summary.exit_code == 0 ? .info : .error, "summary", metadata: [
            "status": "\(summary.status)", "exit_code": "\(summary.exit_code)", "line": "\(summary.line)",
            "checksum_match": "\(summary.checksum_match.map(String.init) ?? "skipped")", "bytes": "\(summary.bytes)", "kvs": "\(summary.kvs)",
        ])
    }

    func record(_ event: ProgressEvent) {
        guard event.isLogged else { return }
        let entry: (Logger, Logger.Level, String, Logger.Metadata)? = state.withLock { s in
            guard let logger = s.logger, let (level, name, metadata) = Self.entry(for: event, in: &s) else { return nil }
            return (logger, level, name, metadata)
        }
        guard let (logger, level, name, metadata) = entry else { return }
        logger.log(level: level, "\(name)", metadata: metadata)
    }

    private static func entry(for event: ProgressEvent, in s: inout State) -> (Logger.Level, String, Logger.Metadata)? {
        func region(_ id: UInt64, _ more: Logger.Metadata = [:]) -> Logger.Metadata {
            var metadata = more
            metadata["region"] = "\(id)"
            return metadata
        }
        switch event {
        case let .phase(phase): return (.info, "phase", ["phase": "\(phase.rawValue)"])
        case let .regionSplit(id, parts):
            return (.info, "split", region(id, ["into": "\(parts.map { String($0.id) }.joined(separator: ","))"]))
        case let .downloading(r, up): return (.info, "download", region(r.id, ["stores": "\(up.sorted().map(String.init).joined(separator: ","))"]))
        case let .attempts(id, n):
            s.attempts[id] = n
            return nil
        case let .attempt(id, record):
            var metadata = region(id)
            metadata["store"] = "\(record.storeID)"
            metadata["step"] = "\(record.step.rawValue)"
            metadata["files"] = "\(s.fileSets.indices.contains(record.fileSet) ? s.fileSets[record.fileSet].files.map(\.name).joined(separator: ",") : "set \(record.fileSet)")"
            metadata["attempt"] = "\(s.attempts[id] ?? 1)"
            metadata["duration_s"] = "\(Self.secondsText(record.duration))"
            metadata["bytes"] = "\(record.bytes)"
            if let error = record.error { metadata["error"] = "\(error)" }
            return (record.error == nil ? .info : .warning, record.step == .download ? "downloaded" : "ingest tried", metadata)
        case let .ingesting(id, leader): return (.info, "ingest", region(id, ["store": "\(leader)"]))
        case let .retrying(id, reason): return (.warning, "retry", region(id, ["reason": "\(reason.label)", "attempt": "\(s.attempts[id] ?? 1)"]))
        case let .pieceDone(id, sets, bytes): return (.info, "ingested", region(id, ["file_sets": "\(sets)", "bytes": "\(bytes)"]))
        case let .regionIngested(id): return (.info, "region ingested", region(id))
        case let .regionFailed(id, reason): return (.error, "region failed", region(id, ["reason": "\(reason)"]))
        case let .paused(id): return (.info, "paused", region(id))
        case let .unpaused(id): return (.info, "resumed", region(id))
        case let .operatorPaused(id): return (.info, "pause asked", region(id))
        case let .operatorResumed(id): return (.info, "resume asked", region(id))
        case .operatorPausedAll: return (.info, "pause asked", ["regions": "all"])
        case .operatorResumedAll: return (.info, "resume asked", ["regions": "all"])
        case let .requeued(id): return (.info, "manual retry", region(id))
        case let .checksum(verdict):
            guard case let .unread(why) = verdict else { return (verdict == .matched ? .info : .error, "checksum", ["match": "\(verdict == .matched)"]) }
            return (.error, "checksum", ["match": "unread", "error": "\(why)"])
        case let .checksumRetried(id, error): return (.warning, "checksum retry", region(id, ["error": "\(error)"]))
        case let .storesSampled(rows, _):
            let changed = rows.filter { s.storeStates[$0.id] != $0.state }
            for row in rows { s.storeStates[row.id] = row.state }
            guard !changed.isEmpty else { return nil }
            return (changed.contains { !$0.state.isUp } ? .warning : .info, "store state",
                    ["stores": "\(changed.map { "\($0.id)=\($0.state)" }.joined(separator: "; "))"])
        case let .log(level, regionID, storeID, message):
            var metadata: Logger.Metadata = ["text": "\(message)"]
            if let regionID { metadata["region"] = "\(regionID)" }
            if let storeID { metadata["store"] = "\(storeID)" }
            let levels: [RestoreEvent.Level: Logger.Level] = [.info: .info, .warn: .warning, .error: .error]
            return (levels[level] ?? .info, "event", metadata)
        default:
            return nil  // not `isLogged`
        }
    }

    /// Seconds to the millisecond (`0.042`), as `String(format: "%.3f")` writes them, at a
    /// fraction of its cost: every download and ingest attempt logs one.
    static func secondsText(_ duration: Duration) -> String {
        let millis = max(0, Int((duration.seconds * 1_000).rounded()))
        let fraction = String(millis % 1_000)
        return "\(millis / 1_000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}
