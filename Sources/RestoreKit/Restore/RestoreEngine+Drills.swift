/// Fault drills an operator (or the demo) can run against the live cluster; each one is logged.
extension RestoreEngine {
    public func drillStoreDown(_ store: UInt64) async {
        try? await cluster.setStore(store, up: false)
        monitor.event(.warn, store: store, "drill: store \(store) down")
    }

    public func drillAllStoresUp() async {
        for (id, store) in cluster.stores where store.state == .down { try? await cluster.setStore(id, up: true) }
        monitor.event(.info, "drill: every down store up")
    }

    public func drillTransferLeader(region id: UInt64) async {
        guard let region = await cluster.pd.region(id: id), let leader = await cluster.pd.leader(of: id),
              let target = region.peers.first(where: { $0.storeID != leader.storeID && cluster.store($0.storeID)?.isUp == true })
        else { return }
        do {
            try await cluster.pd.transferLeader(regionID: id, toStore: target.storeID)
            monitor.event(.warn, region: id, "drill: leader moved to store \(target.storeID)")
        } catch {
            monitor.event(.warn, region: id, "drill: leader move to store \(target.storeID) did not finish: \(error)")
        }
    }

    public func drillSplit(region id: UInt64) async {
        guard let region = await cluster.pd.region(id: id), let middle = DemoFaults.middle(region) else {
            monitor.event(.info, region: id, "drill: region too small to split")
            return
        }
        do {
            _ = try await cluster.pd.split(regionID: id, at: [middle])
            monitor.event(.warn, region: id, "drill: region split at \(KeyDescription(middle).summary)")
        } catch {
            monitor.event(.warn, region: id, "drill: split failed: \(error)")
        }
    }

    public func drillBusy(store: UInt64, for duration: Duration) {
        cluster.makeBusy(store: store, for: duration)
        monitor.event(.warn, store: store, "drill: store \(store) busy for \(duration)")
    }

    public func drillFailDownload(store: UInt64) {
        cluster.failNextDownloads(onStore: store, count: 1)
        monitor.event(.warn, store: store, "drill: the next download on store \(store) will fail")
    }
}
