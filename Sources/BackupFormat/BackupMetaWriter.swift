import KVProto
import Foundation
import SwiftProtobuf
import KeyCodec
import ExternalStorage

/// Writes a backup's backupmeta as BR does: version 1 with files and schemas inline, or version 2
/// with them in meta files (`backupmeta.datafile.NNNNNNNNN`, `backupmeta.schema.NNNNNNNNN`) that
/// backupmeta indexes by name, size and sha256.
public struct BackupMetaWriter: Sendable {
    public let storage: any ExternalStorage
    /// File entries per meta file in version 2.
    public var entriesPerMetaFile = 1024
    /// Encrypts the meta files and the backupmeta as BR does (tidb br/pkg/metautil/metafile.go):
    /// a meta file is stored as ciphertext with its iv, size and plaintext sha256 in the index;
    /// the backupmeta as its iv followed by the ciphertext.
    public var cipher: BackupCipher?

    public init(storage: any ExternalStorage) {
        self.storage = storage
    }

    func write(_ backup: Backup, schemas: [Backup_Schema]) throws(BackupError) {
        var meta = Backup_BackupMeta()
        meta.clusterID = backup.clusterID
        meta.clusterVersion = backup.clusterVersion
        meta.brVersion = backup.brVersion
        meta.startVersion = backup.startVersion
        meta.endVersion = backup.endVersion
        meta.isRawKv = backup.isRawKV
        meta.apiVersion = Kvrpcpb_APIVersion(rawValue: backup.apiVersion.rawValue) ?? .v1
        let entries = backup.files.map(Self.entry)
        if backup.metaVersion >= 2 {
            meta.version = 2
            meta.fileIndex = try index(entries, kind: "datafile") { $0.dataFiles = $1 }
            meta.schemaIndex = try index(schemas, kind: "schema") { $0.schemas = $1 }
        } else {
            meta.version = 1
            meta.files = entries
            meta.schemas = schemas
        }
        let bytes = try Self.encode(BackupReader.metaName, meta)
        if let cipher {
            let iv = BackupCipher.randomIV()
            try store(BackupReader.metaName, iv + cipher.apply(bytes, iv: iv))
        } else {
            try store(BackupReader.metaName, bytes)
        }
    }

    static func entry(_ file: BackupFile) -> Backup_File {
        var e = Backup_File()
        e.name = file.name
        e.sha256 = Data(file.sha256)
        e.startKey = Data(file.startKey)
        e.endKey = Data(file.endKey)
        e.startVersion = file.startVersion
        e.endVersion = file.endVersion
        e.crc64Xor = file.checksum.crc64xor
        e.totalKvs = file.checksum.totalKVs
        e.totalBytes = file.checksum.totalBytes
        e.cf = file.cf.name
        e.size = file.size
        e.cipherIv = Data(file.cipherIV)
        return e
    }

    /// Spreads `items` over meta files and returns an index that lists them.
    private func index<T>(_ items: [T], kind: String, fill: (inout Backup_MetaFile, [T]) -> Void) throws(BackupError) -> Backup_MetaFile {
        var index = Backup_MetaFile()
        var start = 0
        var number = 1
        while start < items.count {
            let end = min(start + entriesPerMetaFile, items.count)
            var chunk = Backup_MetaFile()
            fill(&chunk, Array(items[start..<end]))
            let name = String(format: "backupmeta.%@.%09d", kind, number)
            let bytes = try Self.encode(name, chunk)
            var ref = Backup_File()
            ref.name = name
            ref.size = UInt64(bytes.count)
            ref.sha256 = Data(SHA256Digest.hash(bytes))
            if let cipher {
                let iv = BackupCipher.randomIV()
                ref.cipherIv = Data(iv)
                try store(name, cipher.apply(bytes, iv: iv))
            } else {
                try store(name, bytes)
            }
            index.metaFiles.append(ref)
            start = end
            number += 1
        }
        return index
    }

    private static func encode(_ name: String, _ message: some SwiftProtobuf.Message) throws(BackupError) -> [UInt8] {
        do { return try message.serializedBytes() } catch { throw .production(reason: "cannot encode \(name): \(error)") }
    }

    private func store(_ name: String, _ bytes: [UInt8]) throws(BackupError) {
        do { try storage.write(name, contents: bytes) } catch { throw .storage(error) }
    }
}
