import Foundation
import KeyCodec
import ExternalStorage
import ClusterAPI
import KVProto

// import_sstpb's SSTMeta and Download, both ways.

extension SSTMeta {
    /// TiKV names an SST by a 16-byte uuid; ours are longer names, so the wire carries 16 bytes of
    /// their hash. Both sides derive it the same way, so the leader's ingest finds the peers' files.
    public static func wireUUID(_ uuid: String) -> Data { Data(SHA256Digest.hash(Array(uuid.utf8)).prefix(16)) }

    public var wire: ImportSstpb_SSTMeta {
        var meta = ImportSstpb_SSTMeta()
        meta.uuid = Self.wireUUID(uuid)
        meta.range.start = Data(range.start)
        meta.range.end = Data(range.end)
        meta.endKeyExclusive = !range.endInclusive
        meta.cfName = cf.name
        meta.regionID = regionID
        meta.regionEpoch = epoch.wire
        return meta
    }

    /// On the store's side: the wire uuid in hex names the file.
    public init(_ wire: ImportSstpb_SSTMeta) throws(ImportError) {
        guard let cf = ColumnFamily(name: wire.cfName.isEmpty ? ColumnFamily.default.name : wire.cfName) else {
            throw .remote(storeID: 0, message: "unknown column family '\(wire.cfName)'", retryable: false)
        }
        guard !wire.uuid.isEmpty else { throw .remote(storeID: 0, message: "the SST has no uuid", retryable: false) }
        self.init(
            uuid: Array(wire.uuid).hexString, range: KeyRange(start: Array(wire.range.start), end: Array(wire.range.end), endInclusive: !wire.endKeyExclusive),
            cf: cf, regionID: wire.regionID, epoch: RegionEpoch(wire.regionEpoch))
    }
}

extension IngestFile {
    /// The SSTMeta an Ingest names: the same as the Download's, with the range the store answered.
    public func wire(regionID: UInt64, epoch: RegionEpoch) -> ImportSstpb_SSTMeta {
        SSTMeta(uuid: uuid, range: range, cf: cf, regionID: regionID, epoch: epoch).wire
    }
}

/// Download carries one rewrite rule (`rewrite_rule`); a file is rewritten by the rule whose new
/// prefix its rewritten range starts with, as BR picks one rule per file.
public enum WireRewrite {
    public static func rule(for range: KeyRange, in rules: RewriteRules, mode: KeyRewriter.Mode, format: KeyRewriter.KeyFormat) -> RewriteRule? {
        if rules.rules.count == 1 { return rules.rules[0] }
        let start = format == .transactional && mode == .keyspace ? (try? Memcomparable.decode(range.start).key) ?? range.start : range.start
        return rules.rule(forRewritten: start)
    }

    /// A region bound in plain form (an empty bound stays open), as Keyspace downloads send it.
    public static func plain(_ encoded: [UInt8]) throws(KeyCodecError) -> [UInt8] {
        encoded.isEmpty ? [] : try Memcomparable.decode(encoded).key
    }

    /// A Keyspace download's plain bound, encoded as the store compares keys.
    public static func encoded(_ plain: [UInt8]) -> [UInt8] {
        plain.isEmpty ? [] : Memcomparable.encode(plain)
    }

    public static func wire(_ rule: RewriteRule) -> ImportSstpb_RewriteRule {
        var wire = ImportSstpb_RewriteRule()
        wire.oldKeyPrefix = Data(rule.oldPrefix)
        wire.newKeyPrefix = Data(rule.newPrefix)
        wire.newTimestamp = rule.newTimestamp
        return wire
    }

    public static func rule(_ wire: ImportSstpb_RewriteRule) -> RewriteRule {
        RewriteRule(oldPrefix: Array(wire.oldKeyPrefix), newPrefix: Array(wire.newKeyPrefix), newTimestamp: wire.newTimestamp)
    }
}

extension BackupCipher {
    /// `brpb.CipherInfo`, as BR puts it in every Download of an encrypted backup.
    public var wire: Backup_CipherInfo {
        var info = Backup_CipherInfo()
        info.cipherType = Encryptionpb_EncryptionMethod(rawValue: method.rawValue) ?? .unknown
        info.cipherKey = Data(key)
        return info
    }

    /// The cipher a Download names: nil for none or plaintext (TiKV ignores those, as
    /// tikv src/import/sst_service.rs filters them); an error for a method or key TiKV refuses.
    public static func from(wire info: Backup_CipherInfo) throws(KeyError) -> BackupCipher? {
        switch info.cipherType {
        case .unknown, .plaintext: return nil
        default:
            guard let method = Method(rawValue: info.cipherType.rawValue) else {
                throw KeyError(description: "cipher type \(info.cipherType) is not supported (AES-CTR 128, 192 or 256 only)")
            }
            return try BackupCipher(method: method, key: [UInt8](info.cipherKey))
        }
    }
}
