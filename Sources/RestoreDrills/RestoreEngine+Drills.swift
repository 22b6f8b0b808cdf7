import KeyCodec
import ClusterAPI
import EmbeddedCluster
import RestoreDriver

/// Fault drills an operator (or the demo) can run against the live cluster; each one is logged.
/// Only a cluster that offers `ClusterDrills` (the embedded one) runs them; elsewhere they say so.
extension RestoreEngine {
    private func drills(_ what: String) -> (any ClusterDrills)? {
        guard let drills = cluster as? any ClusterDrills else {
            monitor.event(.info, "drill \(what): \(cluster.location) does not allow fault drills")
            return nil
        }
        return drills
    }

    public func drillStoreDown(_ store: UInt64) async {
        guard let drills = drills("store down") else { return }
        do {
            try await drills.setStore(store, up: false)
            monitor.event(.warn, store: store, "drill: store \(store) down")
        } catch {
            monitor.event(.warn, store: store, "drill: store \(store) not taken down: \(error)")
        }
    }

    public func drillAllStoresUp() async {
        guard let drills = drills("stores up") else { return }
        var failures: [String] = []
        for store in await drills.stores() where store.state == .down {
            do { try await drills.setStore(store.id, up: true) } catch { failures.append("store \(store.id): \(error)") }
        }
        if failures.isEmpty {
            monitor.event(.info, "drill: every down store up")
        } else {
            monitor.event(.warn, "drill: not every down store came up: \(failures.joined(separator: "; "))")
        }
    }

    public func drillTransferLeader(region id: UInt64) async {
        guard let drills = drills("leader transfer") else { return }
        let up = Set(await drills.stores().filter(\.state.isUp).map(\.id))
        guard let region = await drills.region(id: id), let leader = await drills.leader(of: id) else {
            monitor.event(.info, region: id, "drill: region \(id) has no leader to move now")
            return
        }
        guard let target = region.peers.first(where: { $0.storeID != leader.storeID && up.contains($0.storeID) }) else {
            monitor.event(.info, region: id, "drill: region \(id) has no other peer on an up store to lead")
            return
        }
        do {
            try await drills.transferLeader(regionID: id, toStore: target.storeID)
            monitor.event(.warn, region: id, "drill: leader moved to store \(target.storeID)")
        } catch {
            monitor.event(.warn, region: id, "drill: leader move to store \(target.storeID) did not finish: \(error)")
        }
    }

    public func drillSplit(region id: UInt64) async {
        guard let drills = drills("split") else { return }
        guard let region = await drills.region(id: id), let middle = DemoFaults.middle(region) else {
            monitor.event(.info, region: id, "drill: region too small to split")
            return
        }
        do {
            _ = try await drills.split(regionID: id, at: [middle])
            monitor.event(.warn, region: id, "drill: region split at \(KeyDescription(middle).summary)")
        } catch {
            monitor.event(.warn, region: id, "drill: split failed: \(error)")
        }
    }

    public func drillBusy(store: UInt64, for duration: Duration) {
        guard let drills = drills("busy store") else { return }
        drills.makeBusy(store: store, for: duration)
        monitor.event(.warn, store: store, "drill: store \(store) busy for \(duration)")
    }

    public func drillFailDownload(store: UInt64) {
        guard let drills = drills("failed download") else { return }
        drills.failNextDownloads(onStore: store, count: 1)
        monitor.event(.warn, store: store, "drill: the next download on store \(store) will fail")
    }
}

/// The engine's drills behind the console's seam.
public struct EngineDrills: OperatorDrills {
    let engine: RestoreEngine

    public init(_ engine: RestoreEngine) { self.engine = engine }

    public func storeDown(_ store: UInt64) async { await engine.drillStoreDown(store) }
    public func allStoresUp() async { await engine.drillAllStoresUp() }
    public func transferLeader(region: UInt64) async { await engine.drillTransferLeader(region: region) }
    public func split(region: UInt64) async { await engine.drillSplit(region: region) }
    public func busy(store: UInt64, for duration: Duration) { engine.drillBusy(store: store, for: duration) }
}
