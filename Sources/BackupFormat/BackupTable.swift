import KeyCodec

/// A table of a transactional backup, from its schema entry: enough of TiDB's table info to derive
/// table-ID rewrite rules and to check the restored data per table.
public struct BackupTable: Sendable, Hashable, Codable {
    public var database: String
    public var name: String
    public var id: Int64
    public var indexIDs: [Int64]
    /// Physical ids of the partitions of a partitioned table; each needs its own rewrite rule.
    public var partitionIDs: [Int64]
    /// The backup's checksum of the table's data.
    public var checksum: KVChecksum

    public init(database: String, name: String, id: Int64, indexIDs: [Int64] = [], partitionIDs: [Int64] = [], checksum: KVChecksum) {
        self.database = database
        self.name = name
        self.id = id
        self.indexIDs = indexIDs
        self.partitionIDs = partitionIDs
        self.checksum = checksum
    }

    /// Every id under which the table's keys are stored.
    public var physicalIDs: [Int64] { [id] + partitionIDs }

    public var qualifiedName: String { "`\(database)`.`\(name)`" }

    /// `db.tbl`, as a filter rule or a table row names it.
    public var displayName: String { "\(database).\(name)" }
}
