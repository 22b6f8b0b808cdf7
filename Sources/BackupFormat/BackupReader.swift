import KVProto
import Foundation
import SwiftProtobuf
import KeyCodec
import ExternalStorage

/// Reads and validates a BR backup: backupmeta (v1 inline files or v2 meta-file index), every file
/// entry and every schema. A backup that fails here is rejected before anything is written.
public struct BackupReader: Sendable {
    public static let metaName = "backupmeta"
    /// Deepest nesting of meta files that we follow; BR writes one or two levels.
    static let maxIndexDepth = 8
    /// The largest size, kv count or byte count one file entry may claim (256 TiB): anything above
    /// is no real SST.
    public static let maxFileFigure: UInt64 = 1 << 48
    /// The largest sum of sizes, kvs or bytes over a backup's files or tables (64 PiB), so that a
    /// sum over any part of it, times any replica count up to 256, fits in 64 bits.
    public static let maxBackupFigure: UInt64 = 1 << 56

    public let storage: any ExternalStorage
    /// The backup's key, for a backup BR encrypted (`--crypter.method`); nil for a plain one.
    public let cipher: BackupCipher?

    public init(storage: any ExternalStorage, cipher: BackupCipher? = nil) {
        self.storage = storage
        self.cipher = cipher
    }

    public func read() throws(BackupError) -> Backup {
        let metaBytes: [UInt8]
        do { metaBytes = try storage.read(Self.metaName) } catch {
            if case .notFound = error { throw .metaMissing(storage: storage.displayName) }
            throw .storage(error)
        }
        let meta = try decodeMeta(metaBytes)

        var dataFiles = meta.files
        var schemas = meta.schemas
        if meta.hasFileIndex {
            try collect(meta.fileIndex, object: "\(Self.metaName).file_index", depth: 0) { dataFiles += $0.dataFiles }
        }
        if meta.hasSchemaIndex {
            try collect(meta.schemaIndex, object: "\(Self.metaName).schema_index", depth: 0) { schemas += $0.schemas }
        }

        let isRaw = meta.isRawKv
        var seen = Set<String>()
        var files: [BackupFile] = []
        files.reserveCapacity(dataFiles.count)
        var totals = FigureTotals()
        for entry in dataFiles {
            let file = try Self.validate(entry, isRawKV: isRaw)
            guard seen.insert(file.name).inserted else { throw .duplicateFile(name: file.name) }
            if let field = totals.add(size: file.size, checksum: file.checksum) {
                throw .invalidFile(name: file.name, reason: "the backup's \(field) sum past 2^56 with this file")
            }
            files.append(file)
        }
        let tables = try isRaw ? [] : Self.tables(from: schemas)
        return Backup(
            clusterID: meta.clusterID, clusterVersion: meta.clusterVersion, brVersion: meta.brVersion,
            metaVersion: meta.hasFileIndex ? 2 : 1, startVersion: meta.startVersion, endVersion: meta.endVersion,
            isRawKV: isRaw, apiVersion: Backup.APIVersion(rawValue: meta.apiVersion.rawValue) ?? .v1,
            files: files, tables: tables)
    }

    /// Walks a meta-file index: the content of `index` itself, then every meta file it lists,
    /// each checked against its recorded size and sha256.
    private func collect(_ index: Backup_MetaFile, object: String, depth: Int, _ body: (Backup_MetaFile) -> Void) throws(BackupError) {
        guard depth <= Self.maxIndexDepth else { throw .metaIndexTooDeep(object: object) }
        body(index)
        for ref in index.metaFiles {
            do { try ObjectName.validate(ref.name) } catch { throw .invalidFile(name: ref.name, reason: error.description) }
            var bytes: [UInt8]
            do { bytes = try storage.read(ref.name) } catch { throw .storage(error) }
            // BR stores a meta file encrypted with the iv in its index entry, and its size and
            // sha256 are the plaintext's (tidb br/pkg/metautil/metafile.go `flushMetasV2`).
            if !ref.cipherIv.isEmpty {
                guard let cipher else { throw .encrypted(object: ref.name) }
                guard ref.cipherIv.count == BackupCipher.ivLength else { throw .malformedMeta(object: ref.name, reason: "its cipher iv is \(ref.cipherIv.count) bytes, not 16") }
                bytes = cipher.apply(bytes, iv: [UInt8](ref.cipherIv))
            }
            if ref.size != 0, UInt64(bytes.count) != ref.size {
                throw .malformedMeta(object: ref.name, reason: "is \(bytes.count) bytes, the index says \(ref.size)")
            }
            if !ref.sha256.isEmpty, SHA256Digest.hash(bytes) != [UInt8](ref.sha256) {
                if !ref.cipherIv.isEmpty, let cipher { throw .wrongKey(object: ref.name, cipher: cipher.method.name, reason: "its sha256 after decryption does not match the index") }
                throw .malformedMeta(object: ref.name, reason: "sha256 does not match the index")
            }
            let child: Backup_MetaFile = try Self.decode(bytes, object: ref.name)
            try collect(child, object: ref.name, depth: depth + 1, body)
        }
    }

    /// The top-level backupmeta: BR writes an encrypted one as its iv followed by the ciphertext
    /// (tidb br/pkg/metautil/metafile.go `FlushBackupMeta`); a wrong key shows as a protobuf that
    /// does not parse, as BR finds it ("wrong aes cipher").
    func decodeMeta(_ bytes: [UInt8]) throws(BackupError) -> Backup_BackupMeta {
        guard let cipher else { return try Self.decode(bytes, object: Self.metaName) }
        guard bytes.count > BackupCipher.ivLength else {
            throw .malformedMeta(object: Self.metaName, reason: "\(bytes.count) bytes, too short for an encrypted backupmeta (a 16-byte iv and the ciphertext)")
        }
        let plain = cipher.apply(Array(bytes.dropFirst(BackupCipher.ivLength)), iv: Array(bytes.prefix(BackupCipher.ivLength)))
        do { return try Backup_BackupMeta(serializedBytes: plain) } catch {
            throw .wrongKey(object: Self.metaName, cipher: cipher.method.name, reason: "it does not parse as a backupmeta after decryption")
        }
    }

    static func decode<M: SwiftProtobuf.Message>(_ bytes: [UInt8], object: String) throws(BackupError) -> M {
        guard !bytes.isEmpty else { throw .malformedMeta(object: object, reason: "file is empty") }
        do {
            return try M(serializedBytes: bytes)
        } catch {
            throw .malformedMeta(object: object, reason: "not a valid \(M.protoMessageName) protobuf (\(error)); truncated, not a backupmeta, or encrypted (then give --crypter.method and --crypter.key)?")
        }
    }

    /// Checks one file entry: a safe relative name, a real size and sha256, a known CF, ordered
    /// range bounds and consistent counts.
    static func validate(_ entry: Backup_File, isRawKV: Bool) throws(BackupError) -> BackupFile {
        let name = entry.name
        func invalid(_ reason: String) -> BackupError { .invalidFile(name: name, reason: reason) }
        do { try ObjectName.validate(name) } catch { throw invalid(error.description) }
        guard name.hasSuffix(".sst") else { throw invalid("not an .sst file") }
        // TiKV writes an iv for every file, encrypted or not; only the backup's key gives it a use.
        guard entry.cipherIv.isEmpty || entry.cipherIv.count == BackupCipher.ivLength else { throw invalid("its cipher iv is \(entry.cipherIv.count) bytes, not 16") }
        guard entry.size > 0 else { throw invalid("size is 0") }
        for (field, value) in [("size", entry.size), ("total_kvs", entry.totalKvs), ("total_bytes", entry.totalBytes)] where value > maxFileFigure {
            throw invalid("\(field) \(value) is above 2^48")
        }
        guard entry.sha256.count == 32 else { throw invalid("sha256 is \(entry.sha256.count) bytes, expected 32") }
        guard let cf = ColumnFamily(name: entry.cf), cf != .lock else { throw invalid("unknown column family '\(entry.cf)'") }
        if isRawKV, cf != .default { throw invalid("raw backups have only default-CF files, not \(cf)") }
        let start = [UInt8](entry.startKey), end = [UInt8](entry.endKey)
        if !end.isEmpty, compareKeys(start, end) > 0 {
            throw invalid("start key \(start.hexString) is after end key \(end.hexString)")
        }
        if entry.totalKvs == 0, entry.totalBytes != 0 || entry.crc64Xor != 0 {
            throw invalid("counts are inconsistent: 0 kvs but \(entry.totalBytes) bytes, crc64xor \(entry.crc64Xor)")
        }
        if entry.totalKvs > entry.totalBytes {
            throw invalid("counts are inconsistent: \(entry.totalKvs) kvs in \(entry.totalBytes) bytes")
        }
        if !isRawKV, entry.endVersion != 0, entry.startVersion > entry.endVersion {
            throw invalid("start version \(entry.startVersion) is after end version \(entry.endVersion)")
        }
        return BackupFile(
            name: name, sha256: [UInt8](entry.sha256), startKey: start, endKey: end,
            startVersion: entry.startVersion, endVersion: entry.endVersion,
            checksum: KVChecksum(crc64xor: entry.crc64Xor, totalKVs: entry.totalKvs, totalBytes: entry.totalBytes),
            cf: cf, size: entry.size, cipherIV: [UInt8](entry.cipherIv))
    }

    static func tables(from schemas: [Backup_Schema]) throws(BackupError) -> [BackupTable] {
        var tables: [BackupTable] = []
        var ids = Set<Int64>()
        var totals = FigureTotals()
        let decoder = JSONDecoder()
        for (i, schema) in schemas.enumerated() {
            guard !schema.table.isEmpty else { continue }  // a database without tables
            let db: TiDBDatabaseInfo, table: TiDBTableInfo
            do {
                db = try decoder.decode(TiDBDatabaseInfo.self, from: schema.db)
                table = try decoder.decode(TiDBTableInfo.self, from: schema.table)
            } catch {
                throw .invalidSchema(index: i, reason: "table info is not TiDB JSON: \(error)")
            }
            let partitions = table.partition?.definitions?.map(\.id) ?? []
            for id in [table.id] + partitions {
                guard id > 0 else { throw .invalidSchema(index: i, reason: "table \(table.name.O) has id \(id)") }
                guard ids.insert(id).inserted else { throw .invalidSchema(index: i, reason: "table id \(id) appears twice") }
            }
            let checksum = KVChecksum(crc64xor: schema.crc64Xor, totalKVs: schema.totalKvs, totalBytes: schema.totalBytes)
            if let field = totals.add(size: 0, checksum: checksum) {
                throw .invalidSchema(index: i, reason: "the tables' \(field) sum past 2^56 with table \(table.name.O)")
            }
            tables.append(BackupTable(
                database: db.db_name.O, name: table.name.O, id: table.id,
                indexIDs: table.index_info?.map(\.id) ?? [], partitionIDs: partitions, checksum: checksum))
        }
        return tables
    }
}

/// Running sums of a backup's figures, each checked against `BackupReader.maxBackupFigure`.
private struct FigureTotals {
    var size: UInt64 = 0
    var kvs: UInt64 = 0
    var bytes: UInt64 = 0

    /// Adds one entry's figures; the name of the first sum that passes the bound, or nil.
    mutating func add(size: UInt64, checksum: KVChecksum) -> String? {
        for (field, total, value) in [("sizes", \FigureTotals.size, size), ("total_kvs", \FigureTotals.kvs, checksum.totalKVs), ("total_bytes", \FigureTotals.bytes, checksum.totalBytes)] {
            let (sum, overflow) = self[keyPath: total].addingReportingOverflow(value)
            guard !overflow, sum <= BackupReader.maxBackupFigure else { return field }
            self[keyPath: total] = sum
        }
        return nil
    }
}
