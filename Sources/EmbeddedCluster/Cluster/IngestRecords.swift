import Foundation
import Synchronization
import KeyCodec

/// Which Raft entry ingested each SST on a store: `0x01 0x04 uuid 0x00 BE(entry)`, in the
/// `default` CF. A record enters in the same atomic ingest as its data, so after a crash the DB
/// holds the data and its record, or neither; more than one key for a uuid would mean it was
/// ingested twice. The records belong with the data, not with the Raft state.
struct IngestRecords {
    let db: RocksDatabase
    /// What the store knows without reading the DB, if anything.
    var known: KnownIngests?

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
        if let known, !known.mayHold(uuid) { return nil }
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

/// The uuids a store's ingests named since it opened, as hashes. On a store that held no record
/// when it opened, a uuid not among them has none, and its lookup needs no DB iterator: a restore
/// looks up every file on every peer before its download and again when it applies, and an
/// iterator over a store of thousands of small tables is most of an ingest's cost otherwise.
final class KnownIngests: Sendable {
    private let hashes = Mutex(Set<Int>())
    /// True when the DB held no record at open: then every record is one named here.
    private let complete: Bool

    init(db: RocksDatabase) {
        var empty = true
        do {
            try db.scan(cf: .default, from: IngestRecords.start) { key, _ in
                empty = !key.starts(with: IngestRecords.start)
                return false
            }
            complete = empty
        } catch {
            complete = false  // unread: every lookup asks the DB
        }
    }

    /// Notes uuids about to be ingested (before the ingest, so that no lookup misses one that
    /// lands; one that fails to land only costs a lookup in the DB).
    func add(_ uuids: [String]) {
        hashes.withLock { hashes in for uuid in uuids { hashes.insert(uuid.hashValue) } }
    }

    /// False when `uuid` certainly has no record; true when the DB must say.
    func mayHold(_ uuid: String) -> Bool {
        !complete || hashes.withLock { $0.contains(uuid.hashValue) }
    }
}
