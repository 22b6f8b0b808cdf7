import Foundation
import ClusterAPI

/// What happened to a region or a store, as the restore's parts see it.
enum ProgressEvent: Sendable {
    /// The plan's totals.
    case totals(bytes: UInt64, kvs: UInt64)
    case phase(RestorePhase)
    case regionAdded(RegionRow)
    /// The region split; `parts` now hold its range (one of them may keep its id).
    case regionSplit(region: UInt64, into: [Region])
    /// More file sets for a region (the parts of a split neighbour).
    case fileSetsAdded(region: UInt64, Int)
    /// A whole file set is in: its bytes and kvs count.
    case counted(bytes: UInt64, kvs: UInt64, files: Int, table: Int64?)
    /// The tables of the restore, with what each holds.
    case tables([TableRow])
    /// The checksum's outcome per table: the names of those that did not match; nil when skipped.
    case tableChecksums(mismatched: Set<String>?)
    case checksum(ChecksumVerdict)
    /// A region's checksum is asked again after `error`.
    case checksumRetried(region: UInt64, ImportError)
    /// The stores' latest figures.
    case storesSampled([StoreRow], replicas: Int)
    /// The operator paused or resumed a region, or all of them: a queued region shows it at once,
    /// one at work when its worker reaches the next step (`paused`, `unpaused`).
    case operatorPaused(region: UInt64)
    case operatorResumed(region: UInt64)
    case operatorPausedAll
    case operatorResumedAll
    /// A Failed region goes back to work.
    case requeued(region: UInt64)
    /// Downloads of a piece start on the up peers of `region`.
    case downloading(region: Region, upStores: Set<UInt64>)
    case peer(region: UInt64, store: UInt64, PeerPhase)
    /// A step failed on a store (the region goes on retrying, or fails).
    case stepFailed(region: UInt64, store: UInt64?, ImportError)
    /// Every peer holds the piece's files.
    case ready(region: UInt64)
    case ingesting(region: UInt64, leader: UInt64)
    case attempt(region: UInt64, AttemptRecord)
    case attempts(region: UInt64, Int)
    /// The region waits (nil: it no longer does).
    case waiting(region: UInt64, WaitReason?)
    /// A failed step is retried after a wait.
    case retrying(region: UInt64, WaitReason)
    case paused(region: UInt64)
    case unpaused(region: UInt64)
    /// One file set of the region is in.
    case pieceDone(region: UInt64, sets: Int, bytes: UInt64)
    case regionIngested(region: UInt64)
    case regionFailed(region: UInt64, reason: String)
    /// A store's load changed: downloads in flight, ingests queued, ingests done.
    case storeLoad(store: UInt64, downloads: Int = 0, ingests: Int = 0, ingested: UInt64 = 0)
    case log(RestoreEvent.Level, region: UInt64? = nil, store: UInt64? = nil, String)

    /// Whether the progress log writes a line for it; the others only move the monitor's
    /// figures, many times a second, and the log need not take its lock for them.
    var isLogged: Bool {
        switch self {
        case .totals, .tables, .tableChecksums, .regionAdded, .fileSetsAdded, .counted, .peer, .stepFailed, .ready, .waiting, .storeLoad: false
        default: true
        }
    }
}

/// The one part that turns the restore's events into monitor updates: rows, peers, counts and the
/// event log hold data, which the console and the headless printer word.
struct ProgressReporter: Sendable {
    let monitor: RestoreMonitor
    /// The same events as log records, once a logger is attached.
    let log = ProgressLog()

    func report(_ event: ProgressEvent) {
        log.record(event)
        switch event {
        case let .totals(bytes, kvs):
            monitor.update { s in
                s.totalBytes = bytes
                s.totalKVs = kvs
            }
        case let .phase(phase):
            monitor.setPhase(phase)
        case let .regionAdded(row):
            monitor.setRow(row)
        case let .regionSplit(region, parts):
            let kept = parts.first { $0.id == region }
            monitor.updateRow(region) { row in
                row.phase = kept == nil ? .ingested : .queued
                row.waitingFor = nil
                row.lastError = "split into \(parts.map { "r\($0.id)" }.joined(separator: ", "))"
                if let kept {
                    row.startKey = kept.startKey
                    row.endKey = kept.endKey
                    row.epoch = kept.epoch
                }
            }
        case let .fileSetsAdded(region, count):
            monitor.updateRow(region) { $0.fileSetsTotal += count }
        case let .counted(bytes, kvs, files, table):
            monitor.update { s in
                s.doneBytes += bytes
                s.doneKVs += kvs
                guard let table, let i = s.tables.firstIndex(where: { $0.oldIDs.contains(table) }) else { return }
                s.tables[i].filesDone += files
                s.tables[i].kvsDone += kvs
                s.tables[i].bytesDone += bytes
            }
        case let .tables(rows):
            monitor.update { $0.tables = rows }
        case let .tableChecksums(mismatched):
            monitor.update { s in
                for i in s.tables.indices {
                    s.tables[i].checksum = mismatched.map { $0.contains(s.tables[i].name) ? .mismatched : .matched } ?? .skipped
                }
            }
        case let .checksum(verdict):
            monitor.update { $0.checksum = verdict }
        case let .storesSampled(rows, replicas):
            monitor.update { s in
                var leaders: [UInt64: Int] = [:]
                for r in s.regions { if let l = r.leaderStore { leaders[l, default: 0] += 1 } }
                let previous = Dictionary(s.stores.map { ($0.id, $0) }) { a, _ in a }
                s.stores = rows.map { row in
                    var r = row
                    r.leaders = leaders[row.id] ?? 0
                    // Loads changed by events since the sample was taken stay as they are.
                    if let p = previous[row.id] {
                        r.downloadsInFlight = p.downloadsInFlight
                        r.ingestsQueued = p.ingestsQueued
                        r.bytesIngested = p.bytesIngested
                    }
                    return r
                }
                s.bytesPerSecond = rows.reduce(0) { $0 + $1.bytesPerSecond } / Double(max(1, replicas))
                s.memory = ProcessMemory.current()
            }
        case let .operatorPaused(region):
            monitor.updateRow(region, Self.pauseQueued)
            monitor.event(.info, region: region, "paused by operator")
        case let .operatorResumed(region):
            monitor.updateRow(region, Self.resumePaused)
            monitor.event(.info, region: region, "resumed by operator")
        case .operatorPausedAll:
            monitor.updateRows(where: { $0.phase == .queued }, Self.pauseQueued)
            monitor.event(.info, "all regions paused by operator")
        case .operatorResumedAll:
            monitor.updateRows(where: { $0.phase == .paused }, Self.resumePaused)
            monitor.event(.info, "all regions resumed by operator")
        case let .requeued(region):
            monitor.updateRow(region) { row in
                row.phase = .queued
                row.attempts = 0
                row.setEveryPeer(.queued)
            }
        case let .downloading(region, up):
            monitor.updateRow(region.id) { row in
                row.phase = .downloading
                row.epoch = region.epoch
                row.peers = region.peers.map { p in
                    PeerProgress(storeID: p.storeID, phase: up.contains(p.storeID) ? .queued : .down, isLeader: p.storeID == row.leaderStore)
                }
            }
        case let .peer(region, store, phase):
            monitor.setPeer(region, store: store, phase)
        case let .stepFailed(region, store, error):
            if let store { monitor.setPeer(region, store: store, .retrying(error.label)) }
            monitor.updateRow(region) { $0.lastError = error.description }
            monitor.countRetry(error.label)
        case let .checksumRetried(_, error):
            monitor.countRetry(error.label)
        case let .ready(region):
            monitor.updateRow(region) { $0.phase = .ready }
        case let .ingesting(region, leader):
            monitor.updateRow(region) { row in
                row.phase = .ingesting
                row.leaderStore = leader
                row.peers = row.peers.map { p in
                    PeerProgress(storeID: p.storeID, phase: p.storeID == leader ? .ingesting : p.phase, isLeader: p.storeID == leader)
                }
            }
        case let .attempt(region, record):
            monitor.record(region, record)
        case let .attempts(region, count):
            monitor.updateRow(region) { $0.attempts = count }
        case let .waiting(region, reason):
            monitor.updateRow(region) { $0.waitingFor = reason }
        case let .retrying(region, reason):
            monitor.updateRow(region) { row in
                row.phase = .retrying
                row.waitingFor = reason
            }
            // A failed step is counted when it fails; a checkpoint write has no step of its own.
            if case .checkpointWrite = reason { monitor.countRetry(reason.label) }
        case let .paused(region):
            monitor.updateRow(region) { row in
                row.phase = .paused
                row.setEveryPeer(.paused)
            }
        case let .unpaused(region):
            monitor.updateRow(region) { $0.phase = .queued }
        case let .pieceDone(region, sets, bytes):
            monitor.updateRow(region) { row in
                row.bytes += bytes
                row.fileSetsDone += sets
                row.waitingFor = nil
            }
        case let .regionIngested(region):
            monitor.updateRow(region) { row in
                row.phase = .ingested
                row.waitingFor = nil
                row.setEveryPeer(.ingested)
            }
        case let .regionFailed(region, reason):
            monitor.updateRow(region) { row in
                row.phase = .failed
                row.lastError = reason
                row.waitingFor = nil
            }
            monitor.event(.error, region: region, "failed: \(reason)")
        case let .storeLoad(store, downloads, ingests, ingested):
            monitor.update { s in
                guard let i = s.stores.firstIndex(where: { $0.id == store }) else { return }
                s.stores[i].downloadsInFlight += downloads
                s.stores[i].ingestsQueued += ingests
                s.stores[i].bytesIngested += ingested
            }
        case let .log(level, region, store, message):
            monitor.event(level, region: region, store: store, message)
        }
    }

    /// A queued region shows an operator's pause at once; one at work, when its worker stops.
    static func pauseQueued(_ row: inout RegionRow) {
        guard row.phase == .queued else { return }
        row.phase = .paused
        row.setEveryPeer(.paused)
    }

    static func resumePaused(_ row: inout RegionRow) {
        guard row.phase == .paused else { return }
        row.phase = .queued
        row.setEveryPeer(.queued)
    }
}
