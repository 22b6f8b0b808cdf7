import Foundation
import Synchronization
import KeyCodec
import ExternalStorage
import ClusterAPI

/// One table of a column family: its smallest and largest key, its size, and its file number
/// (RocksDB numbers files in the order it creates them).
struct TableFile: Equatable {
    let smallest: [UInt8]
    let largest: [UInt8]
    let bytes: UInt64
    var number: UInt64 = 0
}

/// Merges the small SSTs that ingests leave. RocksDB keeps every ingested file as its own table in
/// the bottommost level, which it never compacts by itself, so a backup of many small files, or a
/// restore into many small regions, would leave a store of tens of thousands of tables: slow to
/// open and to read, and every later ingest slower, since each version edit walks every table.
/// Once ingests have left `filesPerPass` small files, this store's background queue looks at the
/// tables each column family holds and compacts runs of small neighbours (`SmallTableMerge`), as
/// TiKV's compaction runner would; the apply never waits for it. A pass leaves alone the tables
/// that came in since the pass before: the regions still in flight then land between them, and a
/// merge that had closed over their gap would be rewritten for each of them.
final class IngestCompactor: Sendable {
    /// Small files ingested between two passes: enough that the first merge of files ingested
    /// side by side is most of a table's worth, so that few keys are merged twice.
    static let filesPerPass = 128

    private struct State {
        var filesSinceLastPass = 0
        var running = false
        var stopped = false
        /// The newest table of the last pass: the next one merges only tables up to it.
        var settledThrough: UInt64 = 0
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
            while let settled = self.takePass() {
                let newest = self.mergeSmallTables(settledThrough: settled)
                self.state.withLock { $0.settledThrough = max($0.settledThrough, newest) }
            }
        }
    }

    /// One pass: every column family's runs of small data tables up to file `settledThrough`,
    /// merged (`final`: each run whole, see `SmallTableMerge.spans`). Returns the newest table it
    /// saw.
    @discardableResult
    func mergeSmallTables(settledThrough: UInt64 = .max, final: Bool = false) -> UInt64 {
        var newest: UInt64 = 0
        for cf in ColumnFamily.allCases {
            let tables = db.tableFiles(cf: cf).filter { $0.smallest.first == DataKey.prefix }
            newest = tables.reduce(newest) { max($0, $1.number) }
            for span in SmallTableMerge.spans(tables, settledThrough: settledThrough, final: final) {
                // A failed compaction (out of disk or descriptors) loses nothing: the files stay as they were.
                try? db.compactRange(span.start, span.end, cf: cf)
            }
        }
        return newest
    }

    /// The newest settled table when small files came in since the last pass (and starts
    /// counting again); nil, and the queue idle, when none did.
    private func takePass() -> UInt64? {
        state.withLock { s in
            guard s.filesSinceLastPass > 0 else {
                s.running = false
                return nil
            }
            s.filesSinceLastPass = 0
            return s.settledThrough
        }
    }

    /// Takes no more work and, once the queue is idle, merges what is left: no ingest is in
    /// flight any more, so every table is settled. Returns when done.
    func finish() {
        let ingested = state.withLock { s -> Bool in
            s.stopped = true
            return s.settledThrough > 0 || s.filesSinceLastPass > 0
        }
        background.wait()
        if ingested { mergeSmallTables(final: true) }
    }
}

/// Which neighbouring small tables to merge, size-tiered: a run of adjacent tables under
/// `smallTableBytes` is merged when its largest table is at most the others together, else it is
/// split at its largest and each side is looked at the same way. So every merge at least doubles
/// the table that a key lives in (each key is rewritten at most log2(smallTableBytes / file size)
/// times), neighbours ingested at different times (a region in flight between two ingested ones)
/// still end in one table, and no merge rewrites a large table.
///
/// Tables whose key ranges overlap (a file ingested into a gap of a merged table lands in a level
/// above it) are one unit: a compaction of one rewrites the others. A unit that holds
/// `tablesPerUnit` tables is merged even when large or alone. Tables newer than `settledThrough`,
/// and the units that hold them, are left for a later pass and split runs as large ones do.
enum SmallTableMerge {
    static let smallTableBytes: UInt64 = 1 << 20
    static let tablesPerUnit = 8

    typealias Span = (start: [UInt8], end: [UInt8])

    private struct Unit {
        var start: [UInt8]
        var end: [UInt8]
        var bytes: UInt64
        var tables: Int
        var settled: Bool
    }

    /// The key spans to compact (ends inclusive), given a column family's tables in key order of
    /// their smallest keys. `final`: no ingest comes any more, so no merge is undone by a file
    /// landing in its gaps; every run of small neighbours is merged whole, and what a restore
    /// leaves does not depend on when its passes ran.
    static func spans(_ tables: [TableFile], settledThrough: UInt64 = .max, final: Bool = false) -> [Span] {
        var units: [Unit] = []
        for table in tables {
            let settled = table.number <= settledThrough
            if let last = units.last, !keyLess(last.end, table.smallest) {
                units[units.count - 1].end = keyLess(last.end, table.largest) ? table.largest : last.end
                units[units.count - 1].bytes += table.bytes
                units[units.count - 1].tables += 1
                units[units.count - 1].settled = last.settled && settled
            } else {
                units.append(Unit(start: table.smallest, end: table.largest, bytes: table.bytes, tables: 1, settled: settled))
            }
        }
        var spans: [Span] = []
        var run: [Unit] = []
        for unit in units {
            if unit.settled, unit.bytes < smallTableBytes {
                run.append(unit)
                continue
            }
            pick(run[...], final: final, into: &spans)
            run.removeAll(keepingCapacity: true)
            if unit.settled { pick([unit], final: final, into: &spans) }
        }
        pick(run[...], final: final, into: &spans)
        return spans
    }

    private static func pick(_ run: ArraySlice<Unit>, final: Bool, into spans: inout [Span]) {
        guard let first = run.first, let last = run.last else { return }
        guard run.count >= 2 else {
            if first.tables >= tablesPerUnit { spans.append((first.start, first.end)) }
            return
        }
        let largest = run.indices.max { run[$0].bytes < run[$1].bytes }!
        let total = run.reduce(0) { $0 + $1.bytes }
        if final || run[largest].bytes <= total - run[largest].bytes {
            spans.append((first.start, last.end))
        } else {
            pick(run[..<largest], final: final, into: &spans)
            pick(run[largest...largest], final: final, into: &spans)
            pick(run[(largest + 1)...], final: final, into: &spans)
        }
    }
}
