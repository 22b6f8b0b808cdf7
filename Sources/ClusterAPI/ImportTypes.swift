import KeyCodec
import ExternalStorage

/// The SST a Download or Ingest is about, as `import_sstpb.SSTMeta`.
public struct SSTMeta: Hashable, Sendable, Codable {
    public var uuid: String
    /// The rewritten range this download is for: encoded keys without `z`, clipped to the region.
    public var range: KeyRange
    public var cf: ColumnFamily
    public var regionID: UInt64
    public var epoch: RegionEpoch

    public init(uuid: String, range: KeyRange, cf: ColumnFamily, regionID: UInt64, epoch: RegionEpoch) {
        self.uuid = uuid
        self.range = range
        self.cf = cf
        self.regionID = regionID
        self.epoch = epoch
    }

    public var fileName: String { IngestFile(uuid: uuid, cf: cf, range: range).fileName(regionID: regionID, epoch: epoch) }
}

/// `import_sstpb.DownloadRequest`: fetch a backup file and rewrite it for one region. In a
/// BatchDownload, `batch` names several files of one column family, merged into the one SST that
/// `sst` names (kvproto's `ssts` map), and `name`, `expected` and `cipherIV` are unused.
public struct DownloadRequest: Sendable {
    public var sst: SSTMeta
    /// The backup file's name in `storage`.
    public var name: String
    public var storage: any ExternalStorage
    /// The backup file's length and sha256; over kvproto's Download, the length alone.
    public var expected: ExpectedContent?
    public var rules: RewriteRules
    public var mode: KeyRewriter.Mode
    public var format: KeyRewriter.KeyFormat
    /// The API version of the keys, as kvrpcpb.APIVersion numbers it (V1 0, V1TTL 1, V2 2): a raw
    /// backup's own, V1 for TiDB's keys. TiKV refuses raw keys of another version than its own.
    public var apiVersion = 0
    /// The backup's key, for an encrypted backup (`DownloadRequest.cipher_info`), and the file's
    /// own iv (`SSTMeta.cipher_iv`): the store decrypts what it fetched before it rewrites it.
    public var cipher: BackupCipher?
    public var cipherIV: [UInt8] = []
    /// A BatchDownload's files.
    public var batch: [BatchFile] = []
    /// Bytes received so far, while the download runs.
    public var progress: (@Sendable (UInt64) -> Void)?

    public init(sst: SSTMeta, name: String, storage: any ExternalStorage, expected: ExpectedContent?, rules: RewriteRules,
                mode: KeyRewriter.Mode, format: KeyRewriter.KeyFormat, progress: (@Sendable (UInt64) -> Void)? = nil) {
        self.sst = sst
        self.name = name
        self.storage = storage
        self.expected = expected
        self.rules = rules
        self.mode = mode
        self.format = format
        self.progress = progress
    }
}

/// One file of a BatchDownload: an entry of `DownloadRequest.ssts`, its name with its length and iv.
public struct BatchFile: Sendable, Equatable {
    public var name: String
    public var expected: ExpectedContent?
    public var cipherIV: [UInt8]

    public init(name: String, expected: ExpectedContent?, cipherIV: [UInt8] = []) {
        self.name = name
        self.expected = expected
        self.cipherIV = cipherIV
    }
}

/// `import_sstpb.DownloadResponse`.
public struct DownloadResponse: Sendable, Equatable {
    /// The first and last rewritten keys (without `z`), inclusive; meaningless when `isEmpty`.
    public var range: KeyRange
    /// No key of the file fell in the region: there is nothing to ingest.
    public var isEmpty: Bool
    public var entries: UInt64
    /// Bytes of the rewritten SST.
    public var length: UInt64

    public init(range: KeyRange, isEmpty: Bool, entries: UInt64, length: UInt64) {
        self.range = range
        self.isEmpty = isEmpty
        self.entries = entries
        self.length = length
    }
}

/// `import_sstpb.IngestRequest` (MultiIngest): every CF of one file set, for one region.
public struct IngestRequest: Sendable {
    public var regionID: UInt64
    public var epoch: RegionEpoch
    public var files: [IngestFile]

    public init(regionID: UInt64, epoch: RegionEpoch, files: [IngestFile]) {
        self.regionID = regionID
        self.epoch = epoch
        self.files = files
    }
}
