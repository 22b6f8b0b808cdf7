import Metrics
import ClusterAPI

/// What the embedded stores' import service reports through swift-metrics, under TiKV's own names
/// (`tikv_import_*`, from its sst_importer), with a `store` label: one process serves every store,
/// where each TiKV would be a Prometheus instance of its own.
enum ImportMetrics {
    /// An RPC of ImportSST (`download`, `multi_ingest`), by result.
    static func rpc(_ request: String, store: UInt64, started: ContinuousClock.Instant, error: ImportError?) {
        Timer(label: "tikv_import_rpc_duration", dimensions: [("request", request), ("result", error == nil ? "ok" : "error"), ("store", String(store))])
            .recordNanoseconds(nanoseconds(since: started))
        if let error {
            Counter(label: "tikv_import_error_counter", dimensions: [("type", request), ("error", error.label), ("store", String(store))]).increment()
        }
    }

    /// A stage of a download: `download` (the fetch) or `rewrite`; `ingest` for RocksDB's ingest on apply.
    static func stage(_ type: String, store: UInt64, started: ContinuousClock.Instant) {
        let label = type == "ingest" ? "tikv_import_ingest_duration" : "tikv_import_download_duration"
        Timer(label: label, dimensions: [("type", type), ("store", String(store))]).recordNanoseconds(nanoseconds(since: started))
    }

    /// The bytes of one downloaded file.
    static func downloaded(bytes: UInt64, store: UInt64) {
        Recorder(label: "tikv_import_download_bytes", dimensions: [("store", String(store))]).record(bytes)
    }

    private static func nanoseconds(since started: ContinuousClock.Instant) -> Int64 {
        Int64((ContinuousClock.now - started) / .nanoseconds(1))
    }
}
