import Foundation
import Synchronization
import Metrics
import ClusterAPI

/// What a restore reports through swift-metrics, under `restore_console_` (Docs/METRICS.md). An
/// executable bootstraps a backend (Prometheus); without one nothing is recorded. Calls to the
/// cluster are timed where they are made; the rest is sampled from the monitor with the stores,
/// so the figures are the ones the console and the summary show.
final class RestoreMetrics: Sendable {
    /// Counters only go up: the last figures sampled, to add what grew since.
    private struct Sampled {
        var bytes: UInt64 = 0
        var kvs: UInt64 = 0
        var files = 0
        var retries: [String: Int] = [:]
    }

    private let sampled = Mutex(Sampled())

    /// True once an executable has bootstrapped a metrics backend.
    static var isEnabled: Bool { !(MetricsSystem.factory is NOOPMetricsHandler) }

    /// A call to the cluster, by request (`download`, `ingest`, `split`, `scatter`) and result.
    static func recordCall(_ request: String, started: ContinuousClock.Instant, error: ImportError?) {
        Timer(label: "restore_console_rpc_duration_seconds", dimensions: [("request", request), ("result", error == nil ? "ok" : "error")])
            .recordNanoseconds(Int64((ContinuousClock.now - started) / .nanoseconds(1)))
        if let error {
            Counter(label: "restore_console_import_errors_total", dimensions: [("request", request), ("error", error.label)]).increment()
        }
    }

    /// Sets the gauges and moves the counters to the snapshot's figures.
    func sample(_ snapshot: RestoreSnapshot, filesRestored: Int, checkpointLag: Duration) {
        for phase in RegionPhase.allCases {
            Gauge(label: "restore_console_regions", dimensions: [("state", phase.rawValue)]).record(snapshot.counts[phase] ?? 0)
        }
        for kind in ["up", "down", "panicked"] {
            Gauge(label: "restore_console_stores", dimensions: [("state", kind)]).record(snapshot.stores.filter { Self.kind($0.state) == kind }.count)
        }
        for store in snapshot.stores {
            let id = [("store", String(store.id))]
            Gauge(label: "restore_console_download_speed_limit_bytes", dimensions: id).record(store.rateLimit)
            Gauge(label: "restore_console_download_rate_bytes", dimensions: id).record(store.bytesPerSecond)
        }
        Gauge(label: "restore_console_checkpoint_lag_seconds").record(checkpointLag.seconds)
        Gauge(label: "restore_console_peak_rss_bytes").record(snapshot.memory.peakResidentBytes)
        Gauge(label: "restore_console_total_bytes").record(snapshot.totalBytes)
        let grown = sampled.withLock { last in
            var grown = Sampled(
                bytes: snapshot.doneBytes - min(last.bytes, snapshot.doneBytes), kvs: snapshot.doneKVs - min(last.kvs, snapshot.doneKVs),
                files: max(0, filesRestored - last.files))
            for (reason, count) in snapshot.retries { grown.retries[reason] = count - (last.retries[reason] ?? 0) }
            last = Sampled(bytes: snapshot.doneBytes, kvs: snapshot.doneKVs, files: filesRestored, retries: snapshot.retries)
            return grown
        }
        Counter(label: "restore_console_bytes_restored_total").increment(by: Int64(grown.bytes))
        Counter(label: "restore_console_kvs_restored_total").increment(by: Int64(grown.kvs))
        Counter(label: "restore_console_files_restored_total").increment(by: Int64(grown.files))
        for (reason, count) in grown.retries where count > 0 {
            Counter(label: "restore_console_retries_total", dimensions: [("reason", reason)]).increment(by: Int64(count))
        }
    }

    private static func kind(_ state: StoreState) -> String {
        switch state {
        case .up: "up"
        case .down: "down"
        case .panicked: "panicked"
        }
    }
}
