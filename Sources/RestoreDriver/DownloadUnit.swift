import ExternalStorage
import BackupFormat
import ClusterAPI
import KeyCodec

/// What a peer downloads for a piece, and the SST that its ingest takes: one backup file
/// (Download), or several small files of one column family merged into one SST (BatchDownload,
/// tikv src/import/sst_service.rs `batch_download`), which the store writes, syncs, and later
/// ingests once instead of once per file.
struct DownloadUnit: Sendable, Equatable {
    struct Member: Sendable, Equatable {
        var setID: Int
        var file: BackupFile
    }

    var members: [Member]
    /// The SST's uuid: the same on every attempt and after a resume, so that one already
    /// downloaded or ingested is found again.
    var uuid: String
    var cf: ColumnFamily
    var isBatch: Bool

    var size: UInt64 { members.reduce(0) { $0 + $1.file.size } }
}

/// When a piece's files travel in BatchDownloads: small files (at most `smallFile` bytes) of one
/// column family, at least two and at most `maxFiles` and `maxBytes` a batch; larger files keep a
/// Download each.
public struct BatchPolicy: Sendable, Equatable {
    public var smallFile: UInt64 = 2 << 20
    public var maxFiles = 256
    public var maxBytes: UInt64 = 64 << 20

    public init() {}

    /// The units of `sets` (each with its uuid); `batching` false sends one Download a file.
    func units(of sets: [(set: FileSet, uuid: String)], batching: Bool) -> [DownloadUnit] {
        var units: [DownloadUnit] = []
        var small: [ColumnFamily: [(member: DownloadUnit.Member, uuid: String)]] = [:]
        for (set, uuid) in sets {
            for file in set.files {
                let member = DownloadUnit.Member(setID: set.id, file: file)
                if batching, file.size <= smallFile {
                    small[file.cf, default: []].append((member, uuid))
                } else {
                    units.append(DownloadUnit(members: [member], uuid: uuid + file.cf.name, cf: file.cf, isBatch: false))
                }
            }
        }
        for cf in small.keys.sorted(by: { $0.name < $1.name }) {
            for chunk in chunks(small[cf] ?? []) {
                guard chunk.count > 1 else {
                    units.append(DownloadUnit(members: [chunk[0].member], uuid: chunk[0].uuid + cf.name, cf: cf, isBatch: false))
                    continue
                }
                // Named by what it merges: the same sets' files make the same batch again.
                let names = chunk.map { "\($0.uuid)/\($0.member.file.name)" }.joined(separator: ",")
                let uuid = SHA256Digest.hash(Array("batch/\(names)".utf8)).prefix(12).hexString
                units.append(DownloadUnit(members: chunk.map(\.member), uuid: uuid + cf.name, cf: cf, isBatch: true))
            }
        }
        return units
    }

    private func chunks<T>(_ items: [(member: DownloadUnit.Member, uuid: T)]) -> [[(member: DownloadUnit.Member, uuid: T)]] {
        var out: [[(member: DownloadUnit.Member, uuid: T)]] = []
        var bytes: UInt64 = 0
        for item in items {
            if out.isEmpty || out[out.count - 1].count >= maxFiles || bytes + item.member.file.size > maxBytes {
                out.append([])
                bytes = 0
            }
            out[out.count - 1].append(item)
            bytes += item.member.file.size
        }
        return out
    }
}
