import Foundation
import Failpoints
import KeyCodec
import ClusterAPI

/// One replica's ingest of the files of one apply, as TiKV's importer does it: each import file
/// gets a hard-linked clone, and RocksDB ingests the clones by move, atomically with the apply
/// record. RocksDB never writes into an ingested file (no global seqno), so the import file that
/// still shares its inode is never changed, and a replay finds the record and ingests nothing.
/// The applies of many regions of a store go into one RocksDB ingest together (`IngestWriter`).
struct SSTIngestion: Sendable {
    let store: Store
    let command: IngestCommand
    /// The Raft entry that applies it.
    let entry: UInt64
    /// The keys its files span in each column family, first and last.
    private let spans: [ColumnFamily: (first: [UInt8], last: [UInt8])]

    init(store: Store, command: IngestCommand, entry: UInt64) {
        self.store = store
        self.command = command
        self.entry = entry
        var spans: [ColumnFamily: (first: [UInt8], last: [UInt8])] = [:]
        for file in command.files {
            let (first, last) = spans[file.cf] ?? (file.range.start, file.range.end)
            spans[file.cf] = (keyLess(file.range.start, first) ? file.range.start : first, keyLess(last, file.range.end) ? file.range.end : last)
        }
        self.spans = spans
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        var code: Int32 = 0
    }

    /// The import files, one per file of the command.
    var files: [(cf: ColumnFamily, path: String)] {
        command.files.map { (cf: $0.cf, path: Self.importPath(of: $0, in: command, store: store)) }
    }

    static func importPath(of file: IngestFile, in command: IngestCommand, store: Store) -> String {
        store.importDirectory + "/" + file.fileName(regionID: command.regionID, epoch: command.epoch)
    }

    /// True when the files of this ingest and those of `other` span common keys in a column
    /// family (those of two regions never do): they cannot enter RocksDB in one ingest.
    func overlaps(_ other: SSTIngestion) -> Bool {
        spans.contains { cf, mine in
            guard let theirs = other.spans[cf] else { return false }
            return !keyLess(mine.last, theirs.first) && !keyLess(theirs.last, mine.first)
        }
    }

    /// Ingests `batch` (applies on `store` whose files do not overlap) in one RocksDB ingest with
    /// one apply record for all of them: they are all in after a crash, or none is.
    static func run(_ batch: [SSTIngestion], on store: Store) throws {
        guard let first = batch.first else { return }
        if store.faults.fire(\.exhaustDescriptors) {
            throw Failure(description: "cannot link the clones of region \(first.command.regionID)'s files: \(String(cString: strerror(EMFILE))) (injected)", code: EMFILE)
        }
        let record = "\(store.importDirectory)/apply-\(first.command.regionID)-\(first.entry).sst"
        let files = batch.map(\.files)
        let clones = files.joined().map { (cf: $0.cf, path: $0.path + ".clone") }
        // An ingest by move removes the names it ingested (ExternalSstFileIngestionJob::Cleanup,
        // rocksdb db/external_sst_file_ingestion_job.cc); after a failure they are left to us.
        var ingested = false
        defer {
            if !ingested {
                for clone in clones { unlink(clone.path) }
                unlink(record)
            }
        }
        // A record left by a crash may share its inode with an ingested table: its name is
        // replaced, never its content.
        if !store.spares.place(at: record) { unlink(record) }
        let applies = batch.map { (uuids: $0.command.files.map(\.uuid), entry: $0.entry) }
        try IngestRecords.write(applies, to: record)
        store.knownIngests.add(applies.flatMap(\.uuids))
        for (file, clone) in zip(files.joined(), clones) {
            let code = linkReplacing(file.path, clone.path)
            guard code == 0 else {
                throw Failure(description: "cannot link \(file.path) to \(clone.path): \(String(cString: strerror(code)))", code: code)
            }
        }
        // A pass per apply, so that a crash point's n-th pass is the same apply whatever the batches.
        for _ in batch { CrashPoint.ingestLinked.pass() }
        let sizes = files.map { paths in
            paths.map { file in
                var info = stat()
                return stat(file.path, &info) == 0 ? UInt64(info.st_size) : 0
            }
        }
        // Short of space, nothing is kept that might hold blocks (an ingest by link frees none).
        let roomy = store.diskPressure() == nil
        // The record's inode comes back for reuse too once its table is compacted away: ext4
        // without a journal makes a new inode costly (`SpareInodes`).
        if roomy { store.spares.keepLink(to: record) }
        let ingesting = ContinuousClock.now
        try store.db.ingest(clones + [(cf: .default, path: record)], move: true)
        ingested = true
        ImportMetrics.stage("ingest", store: store.id, started: ingesting)
        for _ in batch { CrashPoint.ingest.pass() }
        for (file, bytes) in zip(files.joined(), sizes.joined()) {
            if roomy { store.spares.keep(file.path, bytes: bytes) } else { unlink(file.path) }
        }
        compactRecordsNowAndThen(on: store)
        for bytes in sizes { store.compactor.ingested(bytes: bytes) }
    }

    /// Links `file` at `clone`, replacing a clone left by a crash before an earlier ingest of
    /// the same entry; returns 0 or the errno.
    private static func linkReplacing(_ file: String, _ clone: String) -> Int32 {
        if link(file, clone) == 0 { return 0 }
        guard errno == EEXIST else { return errno }
        unlink(clone)
        return link(file, clone) == 0 ? 0 : errno
    }

    /// Ingests between compactions of the apply records.
    static let recordsPerCompaction = 256

    /// Each ingest adds one tiny record SST to the store; every `recordsPerCompaction` of them are
    /// compacted into one, so they never pile up into thousands of files.
    private static func compactRecordsNowAndThen(on store: Store) {
        guard store.countIngest() % Self.recordsPerCompaction == 0 else { return }
        try? store.db.compactRange(IngestRecords.start, IngestRecords.end, cf: .default)
    }
}

/// A store ran out of something that may come back: file descriptors or disk space. Never a
/// reason to panic the store: the apply waits and is tried again.
struct ResourceExhausted: Error {
    var reason: String

    init?(_ error: any Error) {
        if let failure = error as? SSTIngestion.Failure, [EMFILE, ENFILE, ENOSPC].contains(failure.code) {
            reason = failure.description
            return
        }
        // RocksDB reports an errno as its text.
        let text = "\(error)"
        guard let cause = ["Too many open files", "No space left on device"].first(where: text.contains) else { return nil }
        reason = "\(cause) (\(text))"
    }
}
