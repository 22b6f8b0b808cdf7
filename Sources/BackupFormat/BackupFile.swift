import KeyCodec
import ExternalStorage

/// One SST file of a backup, as its backupmeta entry describes it (after validation).
public struct BackupFile: Sendable, Hashable, Codable {
    public var name: String
    public var sha256: [UInt8]
    /// Raw user keys; an empty end means "to the end of the key space".
    public var startKey: [UInt8]
    public var endKey: [UInt8]
    public var startVersion: UInt64
    public var endVersion: UInt64
    public var checksum: KVChecksum
    public var cf: ColumnFamily
    /// The stored object's size; for an encrypted file, its ciphertext's (the same length).
    public var size: UInt64
    /// The first AES-CTR counter block of an encrypted file (TiKV writes one for every file, and
    /// it means something only with the backup's key); empty when none.
    public var cipherIV: [UInt8] = []

    public init(
        name: String, sha256: [UInt8], startKey: [UInt8], endKey: [UInt8], startVersion: UInt64 = 0,
        endVersion: UInt64, checksum: KVChecksum, cf: ColumnFamily, size: UInt64, cipherIV: [UInt8] = []
    ) {
        self.cipherIV = cipherIV
        self.name = name
        self.sha256 = sha256
        self.startKey = startKey
        self.endKey = endKey
        self.startVersion = startVersion
        self.endVersion = endVersion
        self.checksum = checksum
        self.cf = cf
        self.size = size
    }

    /// The file's key range, end exclusive.
    public var range: KeyRange { KeyRange(start: startKey, end: endKey) }

    /// What a download of this file must match.
    public var expectedContent: ExpectedContent { ExpectedContent(size: size, sha256: sha256) }

    /// The TiDB table the file belongs to, when its keys are table keys.
    public var tableID: Int64? { TableCodec.decode(startKey)?.tableID }
}
