import Foundation
import Synchronization
import KeyCodec
import ClusterAPI

/// Merges the small SSTs that ingests leave. RocksDB keeps every ingested file as its own table in
/// the bottommost level, which it never compacts by itself, so a backup of many small files, or a
/// restore into many small regions, would leave a store of tens of thousands of tables: slow to
/// open and to read, and every later ingest slower, since each version edit walks every table.
/// Once ingests have left `minimumFiles` small files, their key spans are compacted on this store's
/// background queue into tables of RocksDB's target size, as TiKV's compaction runner would; the
/// apply never waits for it.
final class IngestCompactor: Sendable {
    /// Small files that wait before a compaction, and how many spans one compaction takes at most.
    static let minimumFiles = 64
    static let spansPerCompaction = 64
    /// An ingest whose files average less than this is of small files.
    static let smallFileBytes: UInt64 = 1 << 20

    typealias Span = (cf: ColumnFamily, start: [UInt8], end: [UInt8])

    private struct State {
        var pending: [Span] = []
        var pendingFiles = 0
        var running = false
        var stopped = false
        var compactions = 0
    }

    private let db: RocksDatabase
    private let state = Mutex(State())
    private let queue: DispatchQueue
    private let idle = DispatchGroup()

    init(db: RocksDatabase, label: String) {
        self.db = db
        queue = DispatchQueue(label: label, qos: .utility)
    }

    /// Compactions run so far (for tests and the benchmark).
    var compactions: Int { state.withLock { $0.compactions } }

    /// Notes an ingest: its files' column families, key ranges (data keys, end inclusive) and bytes.
    func ingested(_ files: [(cf: ColumnFamily, range: KeyRange, bytes: UInt64)]) {
        guard !files.isEmpty, files.reduce(0, { $0 + $1.bytes }) / UInt64(files.count) < Self.smallFileBytes else { return }
        var spans: [Span] = []
        for cf in ColumnFamily.allCases {
            let ranges = files.filter { $0.cf == cf }.map(\.range)
            guard let start = ranges.map(\.start).min(by: keyLess), let end = ranges.map(\.end).max(by: keyLess) else { continue }
            spans.append((cf, DataKey.make(start), DataKey.make(end)))
        }
        let start = state.withLock { s -> Bool in
            guard !s.stopped else { return false }
            s.pending += spans
            s.pendingFiles += files.count
            guard s.pendingFiles >= Self.minimumFiles, !s.running else { return false }
            s.running = true
            return true
        }
        if start { run() }
    }

    private func run() {
        idle.enter()
        queue.async {
            defer { self.idle.leave() }
            while let spans = self.takePending() {
                for span in Self.merged(spans) {
                    // A failed compaction (out of disk or descriptors) loses nothing: the files stay as they were.
                    if (try? self.db.compactRange(span.start, span.end, cf: span.cf)) != nil {
                        self.state.withLock { $0.compactions += 1 }
                    }
                }
            }
        }
    }

    /// What waits, or nil (and the queue idle) when nothing does.
    private func takePending() -> [Span]? {
        state.withLock { s in
            guard !s.pending.isEmpty else {
                s.running = false
                return nil
            }
            defer {
                s.pending.removeAll()
                s.pendingFiles = 0
            }
            return s.pending
        }
    }

    /// The spans of each column family in key order, `spansPerCompaction` at a time, each group
    /// as one span from its first start to its last end: neighbouring regions' files merge into one
    /// table, and no compaction reaches far beyond the files it was for.
    static func merged(_ spans: [Span]) -> [Span] {
        var out: [Span] = []
        for cf in ColumnFamily.allCases {
            let sorted = spans.filter { $0.cf == cf }.sorted { keyLess($0.start, $1.start) }
            for first in stride(from: 0, to: sorted.count, by: spansPerCompaction) {
                let group = sorted[first..<min(sorted.count, first + spansPerCompaction)]
                out.append((cf, group.first!.start, group.map(\.end).max(by: keyLess)!))
            }
        }
        return out
    }

    /// Compacts what is pending, then takes no more work; returns when the queue is idle.
    func finish() {
        let start = state.withLock { s -> Bool in
            guard !s.pending.isEmpty, !s.running else { return false }
            s.running = true
            return true
        }
        if start { run() }
        idle.wait()
        state.withLock { $0.stopped = true }
    }
}
