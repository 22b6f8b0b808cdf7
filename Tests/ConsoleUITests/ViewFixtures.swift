import Foundation
import Testing
@testable import ConsoleUI
@testable import KeyCodec
@testable import ClusterAPI
@testable import RestoreDriver


/// A snapshot with one region in each interesting state.
func sampleSnapshot(regions count: Int = 6) -> RestoreSnapshot {
    let now = Date()
    func key(_ table: Int64, _ handle: Int64) -> [UInt8] { Memcomparable.encode(TableCodec.recordKey(tableID: table, handle: handle)) }
    let phases: [(RegionPhase, [PeerPhase], String?)] = [
        (.ingested, [.ingested, .ingested, .ingested], nil),
        (.downloading, [.downloading(percent: 73), .downloading(percent: 41), .ready], nil),
        (.retrying, [.retrying("ServerIsBusy"), .ready, .ready], "ServerIsBusy on store 1, retry in 2.1 s"),
        (.paused, [.paused, .paused, .paused], nil),
        (.failed, [.failed("sha256"), .ready, .ready], "store 1: sha256 mismatch"),
        (.queued, [.queued, .queued, .queued], nil),
    ]
    var rows: [RegionRow] = []
    var counts: [RegionPhase: Int] = [:]
    for i in 0..<count {
        let (phase, peers, error) = phases[i % phases.count]
        rows.append(RegionRow(
            id: UInt64(1093 + i * 4), startKey: key(143, Int64(i * 4000)), endKey: key(143, Int64(i * 4000 + 4000)),
            epoch: RegionEpoch(confVer: 3, version: 5), leaderStore: UInt64(i % 3 + 1),
            peers: peers.enumerated().map { PeerProgress(storeID: UInt64($0.offset + 1), phase: $0.element, isLeader: $0.offset == i % 3) },
            phase: phase, attempts: phase == .failed ? 8 : 1, lastError: error, waitingFor: phase == .retrying ? .serverIsBusy(store: 1, retryIn: .milliseconds(2100)) : nil,
            since: now.addingTimeInterval(-3), fileSetsDone: 0, fileSetsTotal: 1, bytes: 0,
            history: [AttemptRecord(storeID: 1, step: .download, fileSet: 0, started: now, duration: .milliseconds(1500), bytes: 1 << 20, error: error)]))
        counts[phase, default: 0] += 1
    }
    let stores = (1...3).map { id in
        StoreRow(id: UInt64(id), state: id == 3 ? .panicked(reason: "ingest failed on apply") : .up, leaders: 2, downloadsInFlight: 3, downloadSlots: 4, ingestsQueued: 1,
                 bytesPerSecond: 60 * 1_048_576, rateLimit: 64 << 20, bytesDownloaded: 1 << 30, bytesIngested: 0, history: [1, 2, 3, 4, 5, 6, 7, 8].map { Double($0) * 8e6 })
    }
    return RestoreSnapshot(
        source: "s3://prod-bk/2026-11-25 (http://127.0.0.1:9000)", clusterLocation: "cluster ./data", storeCount: 3, replicas: 3,
        phase: .restoring, phaseStarted: [.splitting: now.addingTimeInterval(-76), .restoring: now.addingTimeInterval(-72)],
        phaseEnded: [.splitting: now.addingTimeInterval(-72)], regions: RegionRows(rows), stores: stores, counts: counts,
        totalBytes: 2 << 30, doneBytes: 1 << 30, totalKVs: 6_400_000, doneKVs: 4_100_000, bytesPerSecond: 182 * 1_048_576,
        retries: ["ServerIsBusy": 3], events: [RestoreEvent(time: now, level: .warn, regionID: 1101, storeID: nil, message: "NotLeader: leader is now s1, retrying")],
        eventCount: 1, startedAt: now.addingTimeInterval(-80), insecureTLS: false, checksum: nil)
}

func render(_ snapshot: RestoreSnapshot, _ state: ConsoleState = ConsoleState(), width: Int = 120, height: Int = 36) -> ScreenBuffer {
    let order = RegionOrdering.order(snapshot.regions, sort: state.sort, filter: state.filter)
    return DashboardView(snapshot: snapshot, state: state, order: DisplayOrder(sorted: order, rows: snapshot.regions, sort: state.sort, filter: state.filter), unicode: true).render(width: width, height: height)
}

/// The first position of `text` on screen, or nil.
func find(_ text: String, in buffer: ScreenBuffer) -> (x: Int, y: Int)? {
    for y in 0..<buffer.height {
        let line = buffer.line(y)
        if let r = line.range(of: text) { return (line.distance(from: line.startIndex, to: r.lowerBound), y) }
    }
    return nil
}
