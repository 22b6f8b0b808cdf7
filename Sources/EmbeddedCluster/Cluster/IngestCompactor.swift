import Foundation
import Synchronization
import KeyCodec
import ExternalStorage
import ClusterAPI

/// One table of a column family: its smallest and largest key, and its size.
struct TableFile: Equatable {
    let smallest: [UInt8]
    let largest: [UInt8]
    let bytes: UInt64
}

/// Merges the small SSTs that ingests leave. RocksDB keeps every ingested file as its own table in
/// the bottommost level, which it never compacts by itself, so a backup of many small files, or a
/// restore into many small regions, would leave a store of tens of thousands of tables: slow to
/// open and to read, and every later ingest slower, since each version edit walks every table.
/// Once ingests have left `filesPerPass` small files, this store's background queue looks at the
/// tables each column family holds and compacts runs of small neighbours (`SmallTableMerge`), as
/// TiKV's compaction runner would; the apply never waits for it.
final class IngestCompactor: Sendable {
    /// Small files ingested between two passes: enough that the first merge of files ingested
    /// side by side is most of a table's worth, so that few keys are merged twice.
    static let filesPerPass = 128

    private struct State {
        var filesSinceLastPass = 0
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

    /// Notes an ingest of files of these sizes.
    func ingested(bytes: [UInt64]) {
        guard !bytes.isEmpty, bytes.reduce(0, +) / UInt64(bytes.count) < SmallTableMerge.smallTableBytes else { return }
        let start = state.withLock { s -> Bool in
            guard !s.stopped else { return false }
            s.filesSinceLastPass += bytes.count
            guard s.filesSinceLastPass >= Self.filesPerPass, !s.running else { return false }
            s.running = true
            return true
        }
        if start { run() }
    }

    private func run() {
        background.run {
            while self.takePass() { self.mergeSmallTables() }
        }
    }

    /// One pass: every column family's runs of small data tables, merged.
    func mergeSmallTables() {
        for cf in ColumnFamily.allCases {
            let tables = db.tableFiles(cf: cf).filter { $0.smallest.first == DataKey.prefix }
            for span in SmallTableMerge.spans(tables) {
                // A failed compaction (out of disk or descriptors) loses nothing: the files stay as they were.
                try? db.compactRange(span.start, span.end, cf: cf)
            }
        }
    }

    /// True when small files came in since the last pass (and starts counting again); false, and
    /// the queue idle, when none did.
    private func takePass() -> Bool {
        state.withLock { s in
            guard s.filesSinceLastPass > 0 else {
                s.running = false
                return false
            }
            s.filesSinceLastPass = 0
            return true
        }
    }

    /// Compacts what is pending, then takes no more work; returns when the queue is idle.
    func finish() {
        let start = state.withLock { s -> Bool in
            guard s.filesSinceLastPass > 0, !s.running else { return false }
            s.running = true
            return true
        }
        if start { run() }
        background.wait()
        state.withLock { $0.stopped = true }
    }
}

/// Which neighbouring small tables to merge, size-tiered: a run of adjacent tables under
/// `smallTableBytes` is merged when its largest table is at most the others together, else it is
/// split at its largest and each side is looked at the same way. So every merge at least doubles
/// the table that a key lives in (each key is rewritten at most log2(smallTableBytes / file size)
/// times), neighbours ingested at different times (a region in flight between two ingested ones)
/// still end in one table, and no merge rewrites a large table.
enum SmallTableMerge {
    static let smallTableBytes: UInt64 = 1 << 20

    /// The key spans to compact (ends inclusive), given a column family's tables in key order.
    static func spans(_ tables: [TableFile]) -> [(start: [UInt8], end: [UInt8])] {
        var spans: [(start: [UInt8], end: [UInt8])] = []
        var run: [TableFile] = []
        for table in tables + [TableFile(smallest: [], largest: [], bytes: .max)] {
            if table.bytes < smallTableBytes {
                run.append(table)
            } else {
                pick(run[...], into: &spans)
                run.removeAll(keepingCapacity: true)
            }
        }
        return spans
    }

    private static func pick(_ run: ArraySlice<TableFile>, into spans: inout [(start: [UInt8], end: [UInt8])]) {
        guard run.count >= 2 else { return }
        let largest = run.indices.max { run[$0].bytes < run[$1].bytes }!
        let total = run.reduce(0) { $0 + $1.bytes }
        if run[largest].bytes <= total - run[largest].bytes {
            spans.append((run.first!.smallest, run.last!.largest))
        } else {
            pick(run[..<largest], into: &spans)
            pick(run[(largest + 1)...], into: &spans)
        }
    }
}
