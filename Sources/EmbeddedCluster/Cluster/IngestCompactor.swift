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
    }

    private let db: RocksDatabase
    private let state = Mutex(State())
    private let background: BackgroundWork

    init(db: RocksDatabase, label: String) {
        self.db = db
        background = BackgroundWork(label: label, qos: .utility)
    }

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
        background.run {
            while let spans = self.takePending() {
                for span in self.merged(spans) {
                    // A failed compaction (out of disk or descriptors) loses nothing: the files stay as they were.
                    try? self.db.compactRange(span.start, span.end, cf: span.cf)
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

    /// The spans of each column family in key order, neighbours merged (up to
    /// `spansPerCompaction` of them) when the store holds nothing between them: neighbouring
    /// regions' files merge into one table, and no compaction rewrites large files that lie
    /// between small ones.
    func merged(_ spans: [Span]) -> [Span] {
        var out: [Span] = []
        for cf in ColumnFamily.allCases {
            var group: Span?
            var count = 0
            for span in spans.filter({ $0.cf == cf }).sorted(by: { keyLess($0.start, $1.start) }) {
                if var current = group, count < Self.spansPerCompaction, nothingBetween(current.end, span.start, cf: cf) {
                    if keyLess(current.end, span.end) { current.end = span.end }
                    group = current
                    count += 1
                } else {
                    if let current = group { out.append(current) }
                    group = span
                    count = 1
                }
            }
            if let current = group { out.append(current) }
        }
        return out
    }

    /// True when `cf` holds no key after `end` and before `start`.
    private func nothingBetween(_ end: [UInt8], _ start: [UInt8], cf: ColumnFamily) -> Bool {
        var between = false
        try? db.scan(cf: cf, from: end) { key, _ in
            let found = Array(key)
            if found == end { return true }  // the span's own last key
            between = keyLess(found, start)
            return false
        }
        return !between
    }

    /// Compacts what is pending, then takes no more work; returns when the queue is idle.
    func finish() {
        let start = state.withLock { s -> Bool in
            guard !s.pending.isEmpty, !s.running else { return false }
            s.running = true
            return true
        }
        if start { run() }
        background.wait()
        state.withLock { $0.stopped = true }
    }
}
