import ClusterAPI

/// The stores as the restore sees them: their figures, sampled twice a second for the console,
/// and the import mode the restore puts them in.
extension RestoreEngine {
    /// Samples every store's state and traffic; `idle`: the run is over, so no rate is shown.
    func refreshStores(idle: Bool = false) async {
        let current = monitor.snapshot()
        let stores = await cluster.stores()
        let inspection = cluster as? any ClusterInspection
        let known = Set(current.stores.filter { if case .panicked = $0.state { true } else { false } }.map(\.id))
        for (id, reason) in Self.panickedStores(stores) where !known.contains(id) {
            reporter.report(.log(.error, store: id, "store \(id) PANICKED: \(reason)"))
        }
        let rows: [StoreRow] = stores.map { store in
            var traffic = cluster.traffic(of: store.id) ?? StoreTraffic(bytesPerSecond: 0, totalBytes: 0, rateLimit: rateLimit)
            if idle { traffic.bytesPerSecond = 0 }
            let previous = current.stores.first { $0.id == store.id }
            var history = previous?.history ?? []
            history.append(traffic.bytesPerSecond)
            if history.count > RestoreMonitor.historyLimit { history.removeFirst() }
            // Leaders and loads are the reporter's to keep: it counts them from events.
            return StoreRow(
                id: store.id, state: store.state, leaders: 0, downloadsInFlight: 0, downloadSlots: options.downloadsPerStore, ingestsQueued: 0,
                bytesPerSecond: traffic.bytesPerSecond, rateLimit: traffic.rateLimit, bytesDownloaded: traffic.totalBytes, bytesIngested: 0,
                sstFiles: inspection?.sstFiles(ofStore: store.id), history: history)
        }
        reporter.report(.storesSampled(rows, replicas: cluster.replicas))
        sampleMetrics()
    }

    /// The figures that `--metrics-addr` serves, sampled with the stores.
    private func sampleMetrics() {
        guard RestoreMetrics.isEnabled else { return }
        let snapshot = monitor.snapshot()
        let files = tally.countedSets.withLock { $0.reduce(0) { $0 + plan.fileSets[$1].files.count } }
        metrics.sample(snapshot, filesRestored: files, checkpointLag: snapshot.phase == .restoring ? checkpoint.sinceLastWrite : .zero)
    }

    static func panickedStores(_ stores: [StoreInfo]) -> [UInt64: String] {
        var out: [UInt64: String] = [:]
        for store in stores { if case let .panicked(reason) = store.state { out[store.id] = reason } }
        return out
    }

    /// Import mode for the restore, normal mode after it (also after a failure), on every store.
    /// Normal mode again, and the rate limit set back to none: TiKV keeps a limit with no expiry,
    /// which the next workload would inherit, so BR resets it to 0 at the end (tidb
    /// br/pkg/task/restore.go, `ResetSpeedLimit`).
    func leaveImport() async {
        await switchMode(.normal)
        if rateLimit != 0 { for id in storeIDs { await cluster.setDownloadSpeedLimit(0, on: id) } }
    }

    func switchMode(_ mode: ImportMode) async {
        for id in storeIDs {
            do { try await cluster.switchMode(mode, on: id) } catch {
                reporter.report(.log(.warn, store: id, "cannot switch store \(id) to \(mode.rawValue) mode: \(error)"))
            }
        }
    }
}
