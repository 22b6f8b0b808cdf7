import Foundation
import KeyCodec

/// The parts of TiDB's `model.DBInfo` and `model.TableInfo` JSON that a restore needs. Unknown
/// fields are ignored, so schemas from any TiDB version parse.
struct TiDBName: Codable, Equatable {
    var O: String
    var L: String

    init(_ name: String) {
        O = name
        L = name.lowercased()
    }
}

struct TiDBDatabaseInfo: Codable {
    var id: Int64
    var db_name: TiDBName
}

struct TiDBIndexInfo: Codable {
    var id: Int64
    var idx_name: TiDBName
    var is_unique: Bool?
}

struct TiDBPartitionDefinition: Codable {
    var id: Int64
    var name: TiDBName
}

struct TiDBPartitionInfo: Codable {
    var definitions: [TiDBPartitionDefinition]?
}

struct TiDBTableInfo: Codable {
    var id: Int64
    var name: TiDBName
    var index_info: [TiDBIndexInfo]?
    var partition: TiDBPartitionInfo?
    var pk_is_handle: Bool?
}
