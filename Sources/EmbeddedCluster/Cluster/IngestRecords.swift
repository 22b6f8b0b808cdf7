import Foundation
import KeyCodec

/// Which Raft entry ingested each SST on a store: `0x01 0x04 uuid 0x00 BE(entry)`, in the
/// `default` CF. A record enters in the same atomic ingest as its data, so after a crash the DB
/// holds the data and its record, or neither; more than one key for a uuid would mean it was
/// ingested twice. The records belong with the data, not with the Raft state.
struct IngestRecords {
    let db: RocksDatabase

    static func prefix(_ uuid: String) -> [UInt8] { [0x01, 0x04] + Array(uuid.utf8) + [0x00] }

    /// The key range of every record.
    static let start: [UInt8] = [0x01, 0x04]
    static let end: [UInt8] = [0x01, 0x05]

    /// Writes the records of `applies` (the uuids each entry ingests) into an SST at `path`, to
    /// be ingested with the data. Whatever is at `path` is truncated: a name that may share its
    /// inode with an ingested table must be unlinked or renamed over first.
    static func write(_ applies: [(uuids: [String], entry: UInt64)], to path: String) throws {
        let writer = try SSTWriter(path: path)
        let keys = Set(applies.flatMap { apply in apply.uuids.map { prefix($0) + withUnsafeBytes(of: apply.entry.bigEndian, Array.init) } })
        for key in keys.sorted(by: keyLess) { try writer.put(key: key, value: []) }
        _ = try writer.finish()
    }

    /// The index of the entry that ingested `uuid`, or nil when none did.
    func ingestingEntry(uuid: String) throws -> UInt64? {
        let prefix = Self.prefix(uuid)
        var found: UInt64?
        try db.scan(cf: .default, from: prefix) { key, _ in
            guard key.count == prefix.count + 8, key.starts(with: prefix) else { return false }
            found = key.suffix(8).reduce(0) { $0 << 8 | UInt64($1) }
            return false
        }
        return found
    }

    func wasIngested(uuid: String) -> Bool { ((try? ingestingEntry(uuid: uuid)) ?? nil) != nil }

    /// How many entries ingested each SST this store holds: 1 for every uuid, unless one was
    /// ingested twice.
    func counts() throws -> [String: Int] {
        var counts: [String: Int] = [:]
        try db.scan(cf: .default, from: Self.start) { key, _ in
            guard key.count > 11, key[0] == 0x01, key[1] == 0x04 else { return false }
            counts[String(decoding: key.dropFirst(2).dropLast(9), as: UTF8.self), default: 0] += 1
            return true
        }
        return counts
    }
}
