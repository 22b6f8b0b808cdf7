import Foundation
import KeyCodec

/// The final report of a restore, printed as JSON with `--json`, and as BR's summary line.
public struct RestoreSummary: Codable, Sendable {
    public var status: String
    public var regions_total: Int
    public var regions_ingested: Int
    public var regions_failed: Int
    public var files: Int
    public var kvs: UInt64
    public var bytes: UInt64
    public var checksum_match: Bool?
    /// Why the checksum could not be read, when it could not.
    public var checksum_error: String?
    public var elapsed_s: Double
    public var retries: [String: Int]
    public var split_keys: Int
    /// Seconds spent splitting and scattering regions.
    public var split_s: Double
    public var files_by_cf: [String: Int]
    public var average_speed_bytes_per_s: Double
    public var store_panics: [String: String]
    public var checksum_mismatches: [String]
    public var peak_rss_bytes: UInt64
    public var exit_code: Int32

    public init(engine: RestoreEngine, outcome: RestoreEngine.Outcome) {
        let s = engine.monitor.snapshot()
        let elapsed = Date().timeIntervalSince(s.startedAt)
        regions_total = s.regions.lazy.filter { $0.fileSetsTotal > 0 }.count  // lazy: no copy of every row
        regions_ingested = s.counts[.ingested] ?? 0
        regions_failed = s.counts[.failed] ?? 0
        files = engine.backup.files.count
        kvs = s.doneKVs
        bytes = s.doneBytes
        checksum_match = s.checksumMatch
        elapsed_s = (elapsed * 100).rounded() / 100
        retries = s.retries
        split_keys = engine.plan.splitKeys.count
        split_s = (engine.tally.splitDuration.withLock { $0 }.seconds * 100).rounded() / 100
        files_by_cf = Dictionary(uniqueKeysWithValues: engine.backup.filesByCF().map { ($0.key.name, $0.value) })
        average_speed_bytes_per_s = elapsed > 0 ? Double(s.doneBytes) / elapsed : 0
        checksum_mismatches = engine.checksumMismatches.map(\.description)
        peak_rss_bytes = ProcessMemory.current().peakResidentBytes
        switch outcome {
        case .success:
            status = "ok"
            exit_code = 0
            store_panics = [:]
        case .regionsFailed:
            status = "failed"
            exit_code = 1
            store_panics = [:]
        case let .checksumUnread(why):
            status = "failed"
            exit_code = 1
            store_panics = [:]
            checksum_error = why
        case .checksumMismatch:
            status = "failed"
            exit_code = 1
            store_panics = [:]
        case .stopped:
            status = "stopped"
            exit_code = 1
            store_panics = [:]
        case let .storePanicked(panics):
            status = "failed"
            exit_code = 3
            store_panics = Dictionary(uniqueKeysWithValues: panics.map { (String($0.key), $0.value) })
        }
    }

    /// One line, as BR ends a restore.
    public var line: String {
        let speed = ByteFormat.rate(average_speed_bytes_per_s)
        let cfs = files_by_cf.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let checksum = checksum_error != nil ? "UNREAD" : checksum_match.map { $0 ? "match" : "MISMATCH" } ?? "skipped"
        return "[restore \(status)] total-ranges=\(regions_total) ingested=\(regions_ingested) failed=\(regions_failed) "
            + "take=\(String(format: "%.1f", elapsed_s))s total-kv=\(kvs) total-kv-size=\(ByteFormat.size(bytes)) "
            + "average-speed=\(speed) split-keys=\(split_keys) files(\(cfs)) checksum=\(checksum) peak-rss=\(ByteFormat.size(peak_rss_bytes))"
    }
}
