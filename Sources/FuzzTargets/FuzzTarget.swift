import ConsoleUI
import Foundation
import KeyCodec
import ExternalStorage
import BackupFormat
import ClusterAPI
import RestoreDriver

/// The parsers that take outside input, each as a function of arbitrary bytes. A run must end in
/// a value or a typed error: a trap (overflow, out-of-bounds, force unwrap) is the bug a fuzzer
/// looks for. `restore-fuzz` drives them with libFuzzer; the tests replay the committed corpus.
public enum FuzzTarget: String, CaseIterable, Sendable {
    case backupmeta
    case metafile
    case sst
    case memcomparable
    case storageURL = "storage-url"
    case theme
    case rewriteArgument = "rewrite-argument"
    case tableIDMap = "table-id-map"
    /// A backupmeta taken all the way a dry run takes it: read, selected, rules, plan, preview
    /// with its checks, and the checksum figures the end of a restore compares.
    case plan
    /// The input as an encrypted backupmeta, and as an encrypted meta file that one lists, read
    /// with a key: decryption, then the parse of whatever it makes.
    case encryptedMeta = "encrypted-meta"

    public func run(_ data: [UInt8]) {
        switch self {
        case .backupmeta:
            _ = try? BackupReader(storage: MemoryStorage(["backupmeta": data])).read()
        case .metafile:
            // A v2 backupmeta whose file_index names one meta file ("m1", no checksum) holding the input.
            let index: [UInt8] = [0x6A, 0x06, 0x0A, 0x04, 0x0A, 0x02, 0x6D, 0x31]
            _ = try? BackupReader(storage: MemoryStorage(["backupmeta": index, "m1": data])).read()
        case .sst:
            Self.openSST(data)
        case .memcomparable:
            _ = try? Memcomparable.decodeAll(data)
            if let key = try? MVCCKey(decoding: data) { _ = TableCodec.decode(key.userKey) }
            _ = TableCodec.decode(data)
            _ = try? WriteRecord(decoding: data)
            _ = KeyDescription(data).summary
        case .storageURL:
            _ = try? StorageLocation.parse(String(decoding: data, as: UTF8.self))
        case .theme:
            _ = try? Theme.parse(String(decoding: data, as: UTF8.self), source: "fuzz.toml")
        case .rewriteArgument:
            let text = String(decoding: data, as: UTF8.self)
            _ = try? RuleArguments.rewrite(text)
            _ = try? RuleArguments.bytes(text, what: "--prefix")
        case .tableIDMap:
            _ = try? RuleArguments.tableIDMap(String(decoding: data, as: UTF8.self))
        case .plan:
            Self.plan(data)
        case .encryptedMeta:
            Self.encryptedMeta(data)
        }
    }

    private static func encryptedMeta(_ data: [UInt8]) {
        guard let cipher = try? BackupCipher(method: .aes128CTR, key: Array(0..<16)) else { return }
        _ = try? BackupReader(storage: MemoryStorage(["backupmeta": data]), cipher: cipher).read()
        // A backupmeta whose file_index lists meta file "m1" with a cipher iv of zeros.
        let iv = [UInt8](repeating: 0, count: BackupCipher.ivLength)
        let file: [UInt8] = [0x0A, 0x02, 0x6D, 0x31, 0x62, 0x10] + iv
        let index: [UInt8] = [0x6A, UInt8(file.count + 2), 0x0A, UInt8(file.count)] + file
        _ = try? BackupReader(storage: MemoryStorage(["backupmeta": iv + cipher.apply(index, iv: iv), "m1": data]), cipher: cipher).read()
    }

    /// A dry run of the bytes as a backupmeta against a cluster of three empty stores: every sum
    /// and product the plan, the preview and the checksum make of its figures.
    private static func plan(_ data: [UInt8]) {
        let storage = MemoryStorage(["backupmeta": data])
        let done = DispatchSemaphore(value: 0)
        Task {
            defer { done.signal() }
            let survey = FixedSurvey()
            guard let inputs = try? await RestoreInputs.read(storage: storage, survey: survey, stateDirectory: scratch, options: RestoreOptions()) else { return }
            let preview = await RestorePreview.make(inputs: inputs, storage: storage, survey: survey, options: RestoreOptions())
            _ = preview.checks.map(\.message)
            var total = KVChecksum()
            for set in inputs.plan.fileSets { total.merge(set.checksum) }
            for table in inputs.backup.tables { total.merge(table.checksum) }
            _ = total.description
        }
        done.wait()
    }

    /// Opens the bytes as an SST file and reads everything in it, as the importer would.
    /// The bytes as a file and as a small download held in memory: both readers guard RocksDB.
    private static func openSST(_ data: [UInt8]) {
        let path = scratch + "/input.sst"
        guard FileManager.default.createFile(atPath: path, contents: Data(data)) else { return }
        defer { unlink(path) }
        if let reader = try? SSTReader(path: path) { read(reader) }
        if let reader = try? SSTReader(bytes: data, name: "input.sst") { read(reader) }
    }

    private static func read(_ reader: SSTReader) {
        _ = reader.entryCount
        _ = try? reader.firstKey
        _ = try? reader.lastKey
        try? reader.verifyChecksums()
        try? reader.scan { key, value in
            _ = try? MVCCKey(decoding: key.dropFirst())
            _ = try? WriteRecord(decoding: value)
            return true
        }
    }

    private static let scratch: String = {
        let dir = NSTemporaryDirectory() + "restore-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()
}

/// Three empty stores and one region over every key: what a dry run surveys.
private struct FixedSurvey: ClusterSurvey {
    var location: String { "fuzz" }
    var replicas: Int { 3 }
    func stores() async -> [StoreInfo] { (1...3).map { StoreInfo(id: $0, address: "store-\($0)", state: .up) } }
    func regions(overlapping range: KeyRange) async -> [Region] {
        [Region(id: 1, startKey: [], endKey: [], epoch: RegionEpoch(), peers: (1...3).map { PeerMeta(id: 10 + $0, storeID: $0) })]
    }
    func highestTableIDInUse() async -> Int64 { 0 }
    func holdsData(in range: KeyRange) async -> Bool? { false }
    func disk(ofStore store: UInt64) async -> StoreDisk? { StoreDisk(availableBytes: 1 << 40) }
}
