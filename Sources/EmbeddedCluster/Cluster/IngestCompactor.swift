import Foundation
import Synchronization
import KeyCodec
import ClusterAPI

/// Merges the small SSTs that ingests leave in a store. RocksDB keeps every ingested file as its
/// own table in the bottommost level, which it never compacts by itself, so a backup of many small
/// files would leave a store of tens of thousands of tables, slow to open and to read. After an
/// ingest of many small files, their key span is compacted on this store's background queue into
/// tables of RocksDB's target size, as TiKV's compaction runner would; the apply never waits for it.
final class IngestCompactor: Sendable {
    /// A batch with at least this many files, averaging less than `smallFileBytes`, is compacted.
    static let minimumFiles = 16
    static let smallFileBytes: UInt64 = 1 << 20

    private struct State {
        var pending: [(cf: ColumnFamily, start: [UInt8], end: [UInt8])] = []
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

    /// Spans compacted so far (for tests and the benchmark).
    var compactions: Int { state.withLock { $0.compactions } }

    /// Notes an ingest: its files' column families, key ranges (data keys, end inclusive) and bytes.
    func ingested(_ files: [(cf: ColumnFamily, range: KeyRange, bytes: UInt64)]) {
        guard files.count >= Self.minimumFiles, files.reduce(0, { $0 + $1.bytes }) / UInt64(files.count) < Self.smallFileBytes else { return }
        var spans: [(cf: ColumnFamily, start: [UInt8], end: [UInt8])] = []
        for cf in ColumnFamily.allCases {
            let ranges = files.filter { $0.cf == cf }.map(\.range)
            guard let start = ranges.map(\.start).min(by: keyLess), let end = ranges.map(\.end).max(by: keyLess) else { continue }
            spans.append((cf, DataKey.make(start), DataKey.make(end)))
        }
        let start = state.withLock { s -> Bool in
            guard !s.stopped else { return false }
            s.pending += spans
            defer { s.running = true }
            return !s.running
        }
        if start {
            idle.enter()
            queue.async { self.drain() }
        }
    }

    private func drain() {
        defer { idle.leave() }
        while let span = state.withLock({ s -> (cf: ColumnFamily, start: [UInt8], end: [UInt8])? in
            guard !s.stopped, !s.pending.isEmpty else {
                s.running = false
                return nil
            }
            return s.pending.removeFirst()
        }) {
            // A failed compaction (out of disk or descriptors) loses nothing: the files stay as they were.
            if (try? db.compactRange(span.start, span.end, cf: span.cf)) != nil {
                state.withLock { $0.compactions += 1 }
            }
        }
    }

    /// Compacts what is pending, then takes no more work; returns when the queue is idle.
    func finish() {
        idle.wait()
        state.withLock { $0.stopped = true }
    }
}
