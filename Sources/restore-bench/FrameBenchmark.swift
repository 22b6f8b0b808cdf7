import ConsoleUI
import Foundation
import KeyCodec
import ClusterAPI
import EmbeddedCluster
import RestoreDriver

/// Console frame cost with many regions: snapshot, order, render and diff, as the UI loop does.
enum FrameBenchmark {
    static func snapshot(regions count: Int) -> RestoreSnapshot {
        let monitor = RestoreMonitor(source: "bench", clusterLocation: "bench", storeCount: 3, replicas: 3, insecureTLS: false)
        let phases: [RegionPhase] = [.ingested, .downloading, .queued, .ingesting, .retrying, .ready]
        for i in 0..<count {
            let start = Memcomparable.encode(TableCodec.recordKey(tableID: 100 + Int64(i / 1000), handle: Int64(i % 1000 * 100)))
            let end = Memcomparable.encode(TableCodec.recordKey(tableID: 100 + Int64(i / 1000), handle: Int64(i % 1000 * 100 + 100)))
            let phase = phases[i % phases.count]
            monitor.setRow(RegionRow(
                id: UInt64(i + 1), startKey: start, endKey: end, epoch: RegionEpoch(confVer: 1, version: 7), leaderStore: UInt64(i % 3 + 1),
                peers: (1...3).map { PeerProgress(storeID: UInt64($0), phase: phase == .downloading ? .downloading(percent: i % 100) : .queued, isLeader: $0 == i % 3 + 1) },
                phase: phase, attempts: 1, lastError: nil, waitingFor: nil, since: Date(), fileSetsDone: 0, fileSetsTotal: 1, bytes: 0, history: []))
        }
        return monitor.snapshot()
    }

    /// The background re-sort of the region table, in milliseconds.
    static func sortTime(regions: Int) -> Double {
        let rows = snapshot(regions: regions).regions
        let start = ContinuousClock.now
        _ = RegionOrdering.order(rows, sort: .stuckFirst, filter: "")
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) * 1e-15
    }

    /// Returns (median, p99) in milliseconds over `frames` frames.
    static func run(regions: Int, frames: Int) -> (median: Double, p99: Double) {
        let monitorRows = snapshot(regions: regions)
        var controller = ConsoleController()
        controller.tableRows = 22
        var previous: ScreenBuffer?
        var times: [Double] = []
        var snapshot = monitorRows
        for frame in 0..<frames {
            // The engine changes a few rows between frames, some of them to another phase.
            let phases: [RegionPhase] = [.ingested, .downloading, .ingesting, .retrying]
            for k in 0..<20 {
                let i = (frame * 37 + k * 1009) % regions
                snapshot.regions[i].attempts += 1
                if k % 4 == 0 { snapshot.regions[i].phase = phases[(frame + k) % phases.count] }
            }
            let start = ContinuousClock.now
            let taken = snapshot  // what monitor.snapshot() hands the UI
            // As the console does: the periodic re-sort runs on another thread (measured apart).
            if controller.orderKeyChanged(taken) { controller.refreshOrder(taken) }
            controller.regroup(taken)
            let view = DashboardView(snapshot: taken, state: controller.state, order: controller.order, unicode: true)
            let buffer = view.render(width: 120, height: 36)
            _ = buffer.changes(since: previous)
            previous = buffer
            let elapsed = ContinuousClock.now - start
            times.append(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) * 1e-15)
            _ = controller.handle(.down, snapshot: taken, rate: 0)
        }
        return (percentile(times, 0.5), percentile(times, 0.99))
    }
}
