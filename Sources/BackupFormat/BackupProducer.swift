import KVProto
import Foundation
import Synchronization
import KeyCodec
import ExternalStorage

/// Produces a backup of synthetic TiDB-like tables, as TiKV's backup would write it: record and
/// index keys in MVCC form, short values inline in `write`, long values in `default`, several SSTs
/// per table split by size, each with its sha256 and checksum, and a backupmeta over them. Keys,
/// values, file names and ranges depend only on the options, so one seed always gives the same
/// data (the SST bytes themselves differ, as RocksDB stamps each file with a session id).
public struct BackupProducer: Sendable {
    public struct Options: Sendable, Equatable {
        public var tables = 4
        public var rows = 50_000
        public var indexes = 1
        public var fileSize: UInt64 = 4 << 20
        /// When not empty, table `t` gets files of about `fileSizesByTable[t % count]` bytes instead
        /// (a backup of small files with a few large ones, as real backups are).
        public var fileSizesByTable: [UInt64] = []
        public var seed: UInt64 = 1
        public var raw = false
        public var metaVersion = 2
        public var firstTableID: Int64 = 100
        public var database = "demo"
        /// An incremental backup on top of the full one of the same seed, as `br backup
        /// --lastbackupts` writes it: the rows whose handle ends in 0 updated, those ending in 5
        /// deleted (a Delete record, their index entries too), committed between the full
        /// backup's timestamp (its start version) and its own.
        public var incremental = false
        /// Encrypts the backup as BR's `--crypter.method` does: each SST by TiKV's backup writer
        /// (its sha256 over the ciphertext), the meta files and the backupmeta by BR.
        public var cipher: BackupCipher?

        public init() {}

        func fileSize(ofTable t: Int) -> UInt64 {
            fileSizesByTable.isEmpty ? fileSize : fileSizesByTable[t % fileSizesByTable.count]
        }
    }

    public struct Progress: Sendable {
        public var tablesDone: Int
        public var rowsDone: Int
        public var files: Int
        public var bytes: UInt64
    }

    public let storage: any ExternalStorage
    public let options: Options
    /// Local scratch space for SSTs before they are stored.
    public let workDirectory: String

    public init(storage: any ExternalStorage, options: Options, workDirectory: String = NSTemporaryDirectory()) {
        self.storage = storage
        self.options = options
        self.workDirectory = workDirectory
    }

    /// The full backup's timestamp: every commit of it happened before it.
    public var fullBackupTS: UInt64 { 450_000_000_000_000_000 &+ options.seed }
    /// This backup's timestamp: an incremental one's commits are after the full one's.
    public var backupTS: UInt64 { options.incremental ? fullBackupTS + 1_000_000 : fullBackupTS }
    /// Where an incremental backup starts: 0 for a full one.
    public var startVersion: UInt64 { options.incremental ? fullBackupTS : 0 }

    @discardableResult
    public func produce(progress: (@Sendable (Progress) -> Void)? = nil) throws(BackupError) -> Backup {
        guard options.tables > 0, options.rows >= 0, options.indexes >= 0, options.fileSize > 0, !options.fileSizesByTable.contains(0) else {
            throw .production(reason: "tables must be at least 1; rows, indexes and file size must not be negative")
        }
        guard !(options.incremental && options.raw) else { throw .production(reason: "a raw backup has no versions to be incremental over") }
        let scratch = (workDirectory as NSString).appendingPathComponent("restore-console-backup-\(UUID().uuidString)")
        do { try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true) } catch {
            throw .production(reason: "cannot create scratch directory \(scratch)")
        }
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        // Tables are written side by side, one per core; each numbers its files from its own base,
        // so names do not depend on the order in which tables finish.
        let results = Mutex<[Int: Result<[BackupFile], BackupError>]>([:])
        let state = Mutex(Progress(tablesDone: 0, rowsDone: 0, files: 0, bytes: 0))
        DispatchQueue.concurrentPerform(iterations: options.tables) { t in
            let result = Result { () throws(BackupError) in try tableFiles(t, scratch: scratch) }
            results.withLock { $0[t] = result }
            guard case let .success(files) = result else { return }
            state.withLock { p in
                p.tablesDone += 1
                p.rowsDone += options.rows
                p.files += files.count
                p.bytes += files.reduce(0) { $0 + $1.size }
                progress?(p)  // under the lock: one report at a time
            }
        }
        var files: [BackupFile] = []
        var tables: [BackupTable] = []
        var schemas: [Backup_Schema] = []
        for t in 0..<options.tables {
            let tableFiles = try results.withLock { $0[t]! }.get()
            files += tableFiles
            if !options.raw {
                let sum = tableFiles.reduce(into: KVChecksum()) { $0.merge($1.checksum) }
                let table = BackupTable(database: options.database, name: "t\(t + 1)", id: options.firstTableID + Int64(t), indexIDs: (0..<options.indexes).map { Int64($0 + 1) }, checksum: sum)
                tables.append(table)
                schemas.append(try schema(for: table))
            }
        }
        let backup = Backup(
            clusterID: 6_800_000_000_000_000_000 &+ options.seed, clusterVersion: "restore-console synthetic",
            brVersion: "restore-console", metaVersion: options.metaVersion, startVersion: startVersion, endVersion: backupTS,
            isRawKV: options.raw, apiVersion: .v1, files: files, tables: tables)
        var writer = BackupMetaWriter(storage: storage)
        writer.cipher = options.cipher
        try writer.write(backup, schemas: schemas)
        return backup
    }

    /// Writes table number `t` (from 0) and stores its files.
    private func tableFiles(_ t: Int, scratch: String) throws(BackupError) -> [BackupFile] {
        let id = options.firstTableID + Int64(t)
        var chunks = ChunkWriter(producer: self, scratch: scratch, tableID: id, firstRegion: t * 1_000_000 + 1, fileSize: options.fileSize(ofTable: t))
        for (key, value, commitTS) in tableEntries(id) {
            try chunks.add(userKey: key, value: value, commitTS: commitTS)
        }
        return try chunks.close(end: RewriteRule.prefixEnd(tableKeyPrefix(id)))
    }

    /// The prefix that all of a table's keys share: `t{id}_`, or `raw/t{id}/` for raw backups.
    public func tableKeyPrefix(_ id: Int64) -> [UInt8] {
        options.raw ? Array("raw/t\(id)/".utf8) : TableCodec.tablePrefix(id) + [UInt8(ascii: "_")]
    }

    /// A table's entries in key order: every index (by value, then handle), then the rows; a nil
    /// value is a delete. An incremental backup holds only what changed.
    func tableEntries(_ id: Int64) -> some Sequence<([UInt8], [UInt8]?, UInt64)> {
        let rows = options.rows
        let seed = options.seed
        let ts = backupTS
        let commitTS = { (h: Int) in ts - 1 - UInt64(h % 997) }
        let incremental = options.incremental
        // In an incremental backup, what happened to row `h`: nil (nothing), updated, or deleted.
        let change = { (h: Int) -> Change? in incremental ? (h % 10 == 0 ? .updated : h % 10 == 5 ? .deleted : nil) : .written }
        if options.raw {
            let prefix = tableKeyPrefix(id)
            return AnySequence((0..<rows).lazy.map { h -> ([UInt8], [UInt8]?, UInt64) in
                (prefix + Array(String(format: "%010d", h).utf8), Self.rowValue(seed: seed, table: id, handle: h), UInt64(0))
            })
        }
        let indexEntries = (0..<options.indexes).lazy.flatMap { k in
            let indexID = Int64(k + 1)
            let sorted = (0..<rows).map { h in
                (value: Int64(SyntheticRandom.mix(seed, UInt64(id), UInt64(indexID), UInt64(h)) % UInt64(max(1, rows * 4))), handle: h)
            }.sorted { ($0.value, $0.handle) < ($1.value, $1.handle) }
            // An update keeps the row's indexed value: only a delete changes its index entries.
            return sorted.lazy.filter { change($0.handle) == .written || change($0.handle) == .deleted }.map { entry -> ([UInt8], [UInt8]?, UInt64) in
                (TableCodec.indexKey(tableID: id, indexID: indexID, encodedValues: TableCodec.intDatum(entry.value) + TableCodec.intDatum(Int64(entry.handle))),
                 change(entry.handle) == .deleted ? nil : Array("0".utf8), commitTS(entry.handle))
            }
        }
        let recordEntries = (0..<rows).lazy.compactMap { h -> ([UInt8], [UInt8]?, UInt64)? in
            guard let what = change(h) else { return nil }
            let value: [UInt8]? = what == .deleted ? nil : Self.rowValue(seed: seed, table: id, handle: h, version: what == .updated ? 1 : 0)
            return (TableCodec.recordKey(tableID: id, handle: Int64(h)), value, commitTS(h))
        }
        return AnySequence(indexEntries.map { $0 } + recordEntries.map { $0 })
    }

    /// What an entry of the backup does to its row.
    enum Change {
        case written, updated, deleted
    }

    /// A row's value: 8 to 407 bytes, so that some stay inline in `write` and some go to `default`.
    /// `version` 1 is the value an incremental backup updates it to.
    public static func rowValue(seed: UInt64, table: Int64, handle: Int, version: Int = 0) -> [UInt8] {
        var random = SyntheticRandom(seed: SyntheticRandom.mix(seed, UInt64(table), 0xFFFF &- UInt64(version), UInt64(handle)))
        let length = 8 + Int(random.next() % 400)
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
        var value = Array((version == 0 ? "t\(table)r\(handle):" : "t\(table)r\(handle)v\(version):").utf8)
        while value.count < length { value.append(alphabet[Int(random.next() % UInt64(alphabet.count))]) }
        return Array(value.prefix(length))
    }

    func schema(for table: BackupTable) throws(BackupError) -> Backup_Schema {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var schema = Backup_Schema()
        do {
            schema.db = try encoder.encode(TiDBDatabaseInfo(id: 1, db_name: TiDBName(table.database)))
            schema.table = try encoder.encode(TiDBTableInfo(
                id: table.id, name: TiDBName(table.name),
                index_info: table.indexIDs.map { TiDBIndexInfo(id: $0, idx_name: TiDBName("idx_\($0)"), is_unique: false) },
                partition: nil, pk_is_handle: true))
        } catch {
            throw .production(reason: "cannot encode schema of \(table.name): \(error)")
        }
        schema.crc64Xor = table.checksum.crc64xor
        schema.totalKvs = table.checksum.totalKVs
        schema.totalBytes = table.checksum.totalBytes
        return schema
    }
}

/// Cuts one table's entries into files of about `fileSize` bytes. The write and default files of
/// a chunk share its key range, as a region's backup files do.
struct ChunkWriter {
    let producer: BackupProducer
    let scratch: String
    let tableID: Int64
    let fileSize: UInt64
    var region: Int
    var startKey: [UInt8]?
    var writeFile: PendingFile?
    var defaultFile: PendingFile?
    var files: [BackupFile] = []

    /// An SST being written, with the BR checksum of what it holds: (user key, value) where the
    /// value lives, the short value in `write` and the row in `default`.
    final class PendingFile {
        let writer: SSTWriter
        let cf: ColumnFamily
        var checksum = KVChecksum()

        init(writer: SSTWriter, cf: ColumnFamily) {
            self.writer = writer
            self.cf = cf
        }

        /// Bytes in flushed blocks, and bytes put since: RocksDB counts a block only when it flushes
        /// it (32 KiB), which would make every file at least that big.
        private var flushed: UInt64 = 0
        private var unflushed: UInt64 = 0
        var estimatedSize: UInt64 { flushed + unflushed }

        /// `counted` is the value that the checksum sees; nil for a write record that points to `default`.
        func put(key: [UInt8], value: [UInt8], userKey: [UInt8], counted: [UInt8]?) throws(SSTError) {
            try writer.put(key: key, value: value)
            if let counted { checksum.add(key: userKey, value: counted) }
            let size = writer.fileSize
            if size != flushed {
                flushed = size
                unflushed = 0
            }
            unflushed += UInt64(key.count + value.count)
        }
    }

    init(producer: BackupProducer, scratch: String, tableID: Int64, firstRegion: Int, fileSize: UInt64) {
        self.producer = producer
        self.scratch = scratch
        self.tableID = tableID
        self.region = firstRegion
        self.fileSize = fileSize
    }

    var chunkSize: UInt64 { (writeFile?.estimatedSize ?? 0) + (defaultFile?.estimatedSize ?? 0) }

    mutating func add(userKey: [UInt8], value: [UInt8]?, commitTS: UInt64) throws(BackupError) {
        if startKey != nil, chunkSize >= fileSize {
            try finishChunk(end: userKey)
        }
        if startKey == nil { startKey = userKey }
        do {
            if producer.options.raw, let value {
                try file(.default).put(key: DataKey.make(userKey), value: value, userKey: userKey, counted: value)
                return
            }
            let startTS = commitTS - 1
            guard let value else {
                let record = WriteRecord(kind: .delete, startTS: startTS)
                try file(.write).put(key: mvccDataKey(userKey, commitTS), value: record.encoded, userKey: userKey, counted: nil)
                return
            }
            if value.count <= WriteRecord.shortValueMaxLength {
                let record = WriteRecord(kind: .put, startTS: startTS, shortValue: value)
                try file(.write).put(key: mvccDataKey(userKey, commitTS), value: record.encoded, userKey: userKey, counted: value)
            } else {
                try file(.default).put(key: mvccDataKey(userKey, startTS), value: value, userKey: userKey, counted: value)
                let record = WriteRecord(kind: .put, startTS: startTS)
                try file(.write).put(key: mvccDataKey(userKey, commitTS), value: record.encoded, userKey: userKey, counted: nil)
            }
        } catch {
            throw .production(reason: error.description)
        }
    }

    func mvccDataKey(_ userKey: [UInt8], _ ts: UInt64) -> [UInt8] {
        var key: [UInt8] = [DataKey.prefix]
        Memcomparable.encode(userKey, into: &key)
        DescendingTimestamp.append(ts, to: &key)
        return key
    }

    /// The chunk's file for `cf`, created on first use.
    private mutating func file(_ cf: ColumnFamily) throws(SSTError) -> PendingFile {
        if let existing = cf == .write ? writeFile : defaultFile { return existing }
        let path = (scratch as NSString).appendingPathComponent("\(cf.name)-\(region).sst")
        let created = PendingFile(writer: try SSTWriter(path: path), cf: cf)
        if cf == .write { writeFile = created } else { defaultFile = created }
        return created
    }

    mutating func finishChunk(end: [UInt8]) throws(BackupError) {
        guard let start = startKey else { return }
        for pending in [writeFile, defaultFile].compactMap({ $0 }) {
            files.append(try store(pending, start: start, end: end))
        }
        writeFile = nil
        defaultFile = nil
        startKey = nil
        region += 1
    }

    mutating func close(end: [UInt8]) throws(BackupError) -> [BackupFile] {
        try finishChunk(end: end)
        return files
    }

    /// Seals a file, hashes it, and moves it to the backup storage under a BR-style name:
    /// `{store}_{region}_{epoch version}_{sha256(start key)}_{backup ts}_{cf}.sst`.
    private func store(_ pending: PendingFile, start: [UInt8], end: [UInt8]) throws(BackupError) -> BackupFile {
        let path = pending.writer.path
        let size: UInt64
        do { size = try pending.writer.finish() } catch { throw .production(reason: error.description) }
        // As TiKV's backup writer: a fresh iv per file, and the sha256 of what is stored, the
        // ciphertext (tikv components/backup/src/writer.rs `save_and_build_file`).
        let iv = producer.options.cipher.map { _ in BackupCipher.randomIV() } ?? []
        if let cipher = producer.options.cipher {
            do { try cipher.applyInPlace(path: path, iv: iv) } catch { throw .storage(error) }
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .production(reason: "cannot read back \(path)")
        }
        let sha = SHA256Digest.hash([UInt8](data))
        let keyHash = SHA256Digest.hash(start).prefix(8).hexString
        let name = "1_\(region)_1_\(keyHash)_\(producer.backupTS)_\(pending.cf.name).sst"
        do { try producer.storage.move(name, fromFile: path) } catch { throw .storage(error) }
        return BackupFile(
            name: name, sha256: sha, startKey: start, endKey: end, startVersion: producer.startVersion, endVersion: producer.backupTS,
            checksum: pending.checksum, cf: pending.cf, size: size, cipherIV: iv)
    }
}
