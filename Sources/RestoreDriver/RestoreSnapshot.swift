import Foundation
import KeyCodec
import ClusterAPI

/// Where a restore is, phase by phase.
public enum RestorePhase: String, Sendable, Codable, CaseIterable {
    case reading = "read backup"
    case splitting = "split&scatter"
    case restoring = "download&ingest"
    case checksum
    case done
}

/// One peer's place in the protocol.
public enum PeerPhase: Sendable, Equatable {
    case queued
    case downloading(percent: Int)
    case rewriting
    case ready
    case ingesting
    case ingested
    case retrying(String)
    case failed(String)
    case paused
    case down
}

/// Why a region waits, as data: the console and the printer word it, and can sum the waits up
/// by `label`.
public enum WaitReason: Sendable, Hashable {
    /// A store answered ServerIsBusy; the next try is in `retryIn`.
    case serverIsBusy(store: UInt64, retryIn: Duration)
    /// A step failed with the error labelled `label`; try `attempt` of `attempts` is in `retryIn`.
    case retry(step: RestoreStep, label: String, attempt: Int, attempts: Int, retryIn: Duration)
    /// The region has no leader, or the one it had moved; the next try is in `retryIn`.
    case noLeader(retryIn: Duration)
    /// The region's data is in, but the checkpoint could not record it (a full disk, an I/O
    /// error); the next try is in `retryIn`.
    case checkpointWrite(retryIn: Duration)

    /// A stable name for the reason, to count waits by.
    public var label: String {
        switch self {
        case .serverIsBusy: "ServerIsBusy"
        case let .retry(step, label, _, _, _): "\(step.rawValue) \(label)"
        case .noLeader: "NotLeader"
        case .checkpointWrite: "CheckpointWrite"
        }
    }
}

/// A region's place in the protocol, from its peers'.
public enum RegionPhase: String, Sendable, Codable, CaseIterable {
    case queued, downloading, ready, ingesting, ingested, retrying, paused, failed
}

/// One try of one step on one store, for the region detail view. Stored narrow (56 bytes, 72 as
/// plain `Date`, `Duration` and `Int`): every row keeps its attempts, a few per peer, and a restore
/// has tens of thousands of rows.
public struct AttemptRecord: Sendable, Equatable {
    public enum Step: String, Sendable { case download, ingest }
    public var storeID: UInt64
    public var bytes: UInt64
    /// nil when it succeeded.
    public var error: String?
    public var step: Step
    private var startedAt: Double
    private var seconds: Float32
    private var set: Int32

    public init(storeID: UInt64, step: Step, fileSet: Int, started: Date, duration: Duration, bytes: UInt64, error: String?) {
        self.storeID = storeID
        self.bytes = bytes
        self.error = error
        self.step = step
        startedAt = started.timeIntervalSinceReferenceDate
        seconds = Float32(duration.seconds)
        set = Int32(clamping: fileSet)
    }

    /// The file set's index in the plan; -1 for none.
    public var fileSet: Int { Int(set) }
    public var started: Date { Date(timeIntervalSinceReferenceDate: startedAt) }
    public var duration: Duration { .seconds(Double(seconds)) }

    /// The memory it holds: itself and its error's text.
    var footprint: Int { MemoryLayout<Self>.stride + (error?.utf8.count ?? 0) }
}

public struct PeerProgress: Sendable, Equatable {
    public var storeID: UInt64
    public var phase: PeerPhase
    public var isLeader: Bool

    public init(storeID: UInt64, phase: PeerPhase, isLeader: Bool) {
        self.storeID = storeID
        self.phase = phase
        self.isLeader = isLeader
    }
}

/// One row of the region table.
public struct RegionRow: Sendable, Equatable {
    public var id: UInt64
    public var startKey: [UInt8]
    public var endKey: [UInt8]
    public var epoch: RegionEpoch
    public var leaderStore: UInt64?
    public var peers: [PeerProgress]
    public var phase: RegionPhase
    public var attempts: Int
    public var lastError: String?
    /// Why the region is waiting, when it is.
    public var waitingFor: WaitReason?
    /// When the region entered its current phase.
    public var since: Date
    public var fileSetsDone: Int
    public var fileSetsTotal: Int
    public var bytes: UInt64
    public var history: [AttemptRecord]

    public init(
        id: UInt64, startKey: [UInt8], endKey: [UInt8], epoch: RegionEpoch, leaderStore: UInt64?, peers: [PeerProgress],
        phase: RegionPhase, attempts: Int, lastError: String?, waitingFor: WaitReason?, since: Date, fileSetsDone: Int,
        fileSetsTotal: Int, bytes: UInt64, history: [AttemptRecord]
    ) {
        self.id = id
        self.startKey = startKey
        self.endKey = endKey
        self.epoch = epoch
        self.leaderStore = leaderStore
        self.peers = peers
        self.phase = phase
        self.attempts = attempts
        self.lastError = lastError
        self.waitingFor = waitingFor
        self.since = since
        self.fileSetsDone = fileSetsDone
        self.fileSetsTotal = fileSetsTotal
        self.bytes = bytes
        self.history = history
    }
}

extension RegionRow {
    /// Puts every peer in one phase (paused, queued again, ingested), keeping the leader mark.
    public mutating func setEveryPeer(_ phase: PeerPhase) {
        for i in peers.indices { peers[i].phase = phase }
    }
}

/// One row of the stores panel.
public struct StoreRow: Sendable, Equatable {
    public var id: UInt64
    public var state: StoreState
    public var leaders: Int
    public var downloadsInFlight: Int
    public var downloadSlots: Int
    public var ingestsQueued: Int
    public var bytesPerSecond: Double
    public var rateLimit: UInt64
    public var bytesDownloaded: UInt64
    public var bytesIngested: UInt64
    /// The store's SST files and their bytes on disk, when the cluster lets a client see them.
    public var sstFiles: SSTFiles?
    /// Throughput samples, one a second, newest last.
    public var history: [Double]
}

/// One table of the restore, for the tables view: what it holds, what is in, and its checksum.
public struct TableRow: Sendable, Equatable {
    public enum Checksum: String, Sendable { case pending, matched, mismatched, skipped }

    public var name: String
    public var oldIDs: [Int64]
    public var newIDs: [Int64]
    public var regions: Int
    public var files: Int
    public var filesDone = 0
    public var kvs: UInt64
    public var kvsDone: UInt64 = 0
    public var bytes: UInt64
    public var bytesDone: UInt64 = 0
    public var checksum = Checksum.pending

    public init(name: String, oldIDs: [Int64], newIDs: [Int64], regions: Int, files: Int, kvs: UInt64, bytes: UInt64) {
        (self.name, self.oldIDs, self.newIDs, self.regions, self.files, self.kvs, self.bytes) = (name, oldIDs, newIDs, regions, files, kvs, bytes)
    }
}

public struct RestoreEvent: Sendable, Equatable {
    public enum Level: String, Sendable { case info, warn, error }
    public var time: Date
    public var level: Level
    public var regionID: UInt64?
    public var storeID: UInt64?
    public var message: String
}

/// Everything the console and the headless printer show, at one instant. Cheap to take: the
/// arrays are shared until the engine changes them.
public struct RestoreSnapshot: Sendable {
    public var source: String
    /// Where the cluster is: `cluster DIR` (embedded) or `PD HOST:PORT`.
    public var clusterLocation: String
    public var storeCount: Int
    public var replicas: Int
    public var phase: RestorePhase
    public var phaseStarted: [RestorePhase: Date]
    public var phaseEnded: [RestorePhase: Date]
    public var regions: RegionRows
    public var stores: [StoreRow]
    /// The tables of a transactional backup (none for a raw one).
    public var tables: [TableRow] = []
    public var counts: [RegionPhase: Int]
    public var totalBytes: UInt64
    public var doneBytes: UInt64
    public var totalKVs: UInt64
    public var doneKVs: UInt64
    public var bytesPerSecond: Double
    public var retries: [String: Int]
    /// The latest events, oldest first; `eventCount` counts every event ever, so a reader can tell
    /// which are new.
    public var events: [RestoreEvent]
    public var eventCount: Int
    public var startedAt: Date
    public var insecureTLS: Bool
    /// The checksum's verdict, once taken.
    public var checksum: ChecksumVerdict?
    /// The process's memory, refreshed with the stores.
    public var memory = ProcessMemory(residentBytes: 0, peakResidentBytes: 0)

    /// True when the checksum matched, false when it did not or could not be read; nil before.
    public var checksumMatch: Bool? { checksum.map { $0 == .matched } }

    /// Seconds left at the current rate, when it can be told.
    public var eta: Double? {
        guard bytesPerSecond > 1, doneBytes < totalBytes else { return nil }
        return Double(totalBytes - doneBytes) / bytesPerSecond
    }
}
