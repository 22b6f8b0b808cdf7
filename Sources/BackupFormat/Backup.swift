import KeyCodec

/// A validated backup: its files, tables and versions. Reading one (`BackupReader`) checks every
/// entry before anything is restored.
public struct Backup: Sendable {
    public enum APIVersion: Int, Sendable, Codable {
        case v1 = 0
        case v1ttl = 1
        case v2 = 2
    }

    public var clusterID: UInt64
    public var clusterVersion: String
    public var brVersion: String
    /// 1: files inline in backupmeta; 2: through meta files (`file_index`).
    public var metaVersion: Int
    public var startVersion: UInt64
    public var endVersion: UInt64
    public var isRawKV: Bool
    public var apiVersion: APIVersion
    public var files: [BackupFile]
    public var tables: [BackupTable]

    public init(
        clusterID: UInt64 = 0, clusterVersion: String = "", brVersion: String = "", metaVersion: Int,
        startVersion: UInt64 = 0, endVersion: UInt64, isRawKV: Bool, apiVersion: APIVersion = .v1,
        files: [BackupFile], tables: [BackupTable]
    ) {
        self.clusterID = clusterID
        self.clusterVersion = clusterVersion
        self.brVersion = brVersion
        self.metaVersion = metaVersion
        self.startVersion = startVersion
        self.endVersion = endVersion
        self.isRawKV = isRawKV
        self.apiVersion = apiVersion
        self.files = files
        self.tables = tables
    }

    /// The checksum of every key/value pair in the backup.
    public var checksum: KVChecksum {
        files.reduce(into: KVChecksum()) { $0.merge($1.checksum) }
    }

    public var totalSize: UInt64 { files.reduce(0) { $0 + $1.size } }

    public func filesByCF() -> [ColumnFamily: Int] {
        files.reduce(into: [:]) { $0[$1.cf, default: 0] += 1 }
    }
}
