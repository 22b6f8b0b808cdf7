import ConsoleUI
import Foundation
import BackupFormat
import ExternalStorage
import EmbeddedCluster
import RestoreDriver

/// Console frames over a real engine's snapshot in the middle of a restore of 20,000 regions or
/// more: the engine splits, downloads and ingests on the other threads while the frames run as the
/// UI loop runs them. A key press is answered when the frame that shows it is drawn.
enum LiveFrameBenchmark {
    struct Result {
        var median: Double
        var p99: Double
        /// The slowest key press, from its read to the end of the frame that shows it.
        var slowestKey: Double
        var regions: Int
    }

    static func run(directory: String, frames: Int) async throws -> Result {
        var options = BackupProducer.Options()
        options.tables = 6
        options.rows = 100_000
        options.fileSize = 8 << 10
        let storage = LocalStorage(root: directory + "/backup-live")
        try BackupProducer(storage: storage, options: options).produce()
        let cluster = try await Cluster.open(directory: directory + "/cluster-live", create: .init(stores: 3, replicas: 3))
        var restore = RestoreOptions()
        restore.mergeSize = 1  // a region per file set
        restore.verifyChecksum = false
        let engine = try await RestoreEngine.prepare(storage: storage, cluster: cluster, stateDirectory: directory + "/cluster-live", options: restore)
        let running = Task { await engine.run() }

        // The middle of the restore: every region split and queued, downloads and ingests going.
        while engine.monitor.snapshot().regions.count < 20_000 || engine.monitor.snapshot().counts[.ingested, default: 0] < 200 {
            try await Task.sleep(for: .milliseconds(200))
        }
        var controller = ConsoleController()
        let ordering = LiveOrdering()
        var previous: ScreenBuffer?
        var times: [Double] = [], keys: [Double] = []
        var regions = 0
        for frame in 0..<frames {
            let start = ContinuousClock.now
            let snapshot = engine.monitor.snapshot()
            regions = snapshot.regions.count
            if frame % 10 == 5 { _ = controller.handle(.down, snapshot: snapshot, rate: 0) }
            controller.tableRows = DashboardView.tableRows(height: 36, stores: snapshot.stores.count)
            ordering.update(&controller, with: snapshot)
            let buffer = DashboardView(snapshot: snapshot, state: controller.state, order: controller.order, unicode: true).render(width: 120, height: 36)
            _ = buffer.changes(since: previous)
            previous = buffer
            let elapsed = RewriteBenchmark.seconds(ContinuousClock.now - start) * 1000
            times.append(elapsed)
            if frame % 10 == 5 { keys.append(elapsed) }
            // The UI loop waits for input between frames; the engine runs meanwhile.
            try await Task.sleep(for: .milliseconds(5))
        }
        engine.pauseAll()
        running.cancel()
        times.sort()
        return Result(median: times[times.count / 2], p99: times[min(times.count - 1, Int(Double(times.count) * 0.99))], slowestKey: keys.max() ?? 0, regions: regions)
    }
}
