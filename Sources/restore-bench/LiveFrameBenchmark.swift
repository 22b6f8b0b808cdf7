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
        /// The same of the UI thread's own CPU time per frame: what is left of a frame's wall time
        /// is time the thread waited (for a core or for the snapshot's lock).
        var cpuMedian: Double
        var cpuP99: Double
        /// The slowest key press, from its read to the end of the frame that shows it.
        var slowestKey: Double
        /// The p99 of taking the snapshot (the monitor's lock, which the engine takes too).
        var snapshotP99: Double
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
        // On a thread of its own, as the console's loop runs (ConsoleRunner), never on the pool.
        let measured: Frames = await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: Self.frames(frames, over: engine)) }
            thread.stackSize = 8 << 20
            thread.start()
        }
        // Stopped before the next benchmark, so that nothing of it runs beside that one.
        running.cancel()
        _ = await running.value
        await cluster.close()
        return Result(median: percentile(measured.times, 0.5), p99: percentile(measured.times, 0.99), cpuMedian: percentile(measured.cpu, 0.5),
                      cpuP99: percentile(measured.cpu, 0.99), slowestKey: measured.keys.max() ?? 0,
                      snapshotP99: percentile(measured.snapshots, 0.99), regions: measured.regions)
    }

    /// Each frame's wall and CPU milliseconds, and those of the frames that answer a key.
    struct Frames: Sendable {
        var times: [Double] = [], cpu: [Double] = [], keys: [Double] = [], snapshots: [Double] = []
        var regions = 0
    }

    /// `count` frames as the console's loop draws them: the snapshot, a key now and then, the
    /// order, the view, the changes to send; then the wait for input.
    static func frames(_ count: Int, over engine: RestoreEngine) -> Frames {
        var controller = ConsoleController()
        let ordering = LiveOrdering()
        var previous: ScreenBuffer?
        var out = Frames()
        var priority = WorkerPriority.Keeper()
        for frame in 0..<count {
            priority.tick()
            let start = ContinuousClock.now
            let cpuStart = threadCPUMilliseconds()
            let snapshot = engine.monitor.snapshot()
            out.snapshots.append(RewriteBenchmark.seconds(ContinuousClock.now - start) * 1000)
            out.regions = snapshot.regions.count
            if frame % 10 == 5 { _ = controller.handle(.down, snapshot: snapshot, rate: 0) }
            controller.tableRows = DashboardView.tableRows(height: 36, stores: snapshot.stores.count)
            ordering.update(&controller, with: snapshot)
            let buffer = DashboardView(snapshot: snapshot, state: controller.state, order: controller.order, unicode: true).render(width: 120, height: 36)
            _ = buffer.changes(since: previous)
            previous = buffer
            let elapsed = RewriteBenchmark.seconds(ContinuousClock.now - start) * 1000
            out.times.append(elapsed)
            out.cpu.append(threadCPUMilliseconds() - cpuStart)
            if frame % 10 == 5 { out.keys.append(elapsed) }
            // The UI loop waits for input between frames; the engine runs meanwhile.
            Thread.sleep(forTimeInterval: 0.005)
        }
        return out
    }

    private static func threadCPUMilliseconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return Double(now.tv_sec) * 1000 + Double(now.tv_nsec) / 1_000_000
    }
}
