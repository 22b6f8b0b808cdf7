import Foundation
import Failpoints
import KeyCodec
import ClusterAPI

/// One replica's ingest of a batch of files, as TiKV's importer does it: each import file gets a
/// hard-linked clone, and RocksDB ingests the clones by move, atomically with the set's apply
/// record. RocksDB never writes into an ingested file (no global seqno), so the import file that
/// still shares its inode is never changed, and a replay finds the record and ingests nothing.
struct SSTIngestion {
    let store: Store
    let command: IngestCommand
    /// The Raft entry that applies it.
    let entry: UInt64

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

    func run() throws {
        if store.takeFault(\.exhaustDescriptors) {
            throw Failure(description: "cannot link the clones of region \(command.regionID)'s files: \(String(cString: strerror(EMFILE))) (injected)", code: EMFILE)
        }
        let record = "\(store.importDirectory)/apply-\(command.regionID)-\(entry).sst"
        let files = files
        let clones = files.map { (cf: $0.cf, path: $0.path + ".clone") }
        defer {
            for clone in clones { unlink(clone.path) }
            unlink(record)
        }
        try RaftStorage.writeIngestRecord(uuids: command.files.map(\.uuid), entry: entry, to: record)
        for (file, clone) in zip(files, clones) {
            unlink(clone.path)  // left by a crash before an earlier ingest of this entry
            guard link(file.path, clone.path) == 0 else {
                let code = errno
                throw Failure(description: "cannot link \(file.path) to \(clone.path): \(String(cString: strerror(code)))", code: code)
            }
        }
        CrashPoint.ingestLinked.pass()
        let sizes = clones.map { clone in
            var info = stat()
            return stat(clone.path, &info) == 0 ? UInt64(info.st_size) : 0
        }
        let ingesting = ContinuousClock.now
        try store.db.ingest(clones + [(cf: .default, path: record)], move: true)
        ImportMetrics.stage("ingest", store: store.id, started: ingesting)
        CrashPoint.ingest.pass()
        for file in files { unlink(file.path) }
        compactRecordsNowAndThen()
        store.compactor.ingested(bytes: sizes)
    }

    /// Ingests between compactions of the apply records.
    static let recordsPerCompaction = 256

    /// Each ingest adds one tiny record SST to the store; every `recordsPerCompaction` of them are
    /// compacted into one, so they never pile up into thousands of files.
    private func compactRecordsNowAndThen() {
        guard store.countIngest() % Self.recordsPerCompaction == 0 else { return }
        try? store.db.compactRange(RaftStorage.ingestedRecordsStart, RaftStorage.ingestedRecordsEnd, cf: .default)
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
