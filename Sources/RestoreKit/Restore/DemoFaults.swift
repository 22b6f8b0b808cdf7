/// The faults the demo injects while it restores, so that retries show: a failed download, a
/// leader change, a split of a waiting region (EpochNotMatch) and a busy store.
public struct DemoFaults: Sendable {
    public init() {}

    public func run(against engine: RestoreEngine) async {
        let cluster = engine.cluster
        await waitForProgress(engine, 0.05)
        cluster.failNextDownloads(onStore: 2, count: 1)
        engine.monitor.event(.warn, store: 2, "drill: the next download on store 2 will fail")

        await waitForProgress(engine, 0.2)
        if let row = engine.monitor.snapshot().regions.first(where: { $0.phase == .queued || $0.phase == .downloading }),
           let target = await cluster.pd.region(id: row.id)?.peers.map(\.storeID).first(where: { $0 != row.leaderStore }) {
            try? await cluster.pd.transferLeader(regionID: row.id, toStore: target)
            engine.monitor.event(.warn, region: row.id, "drill: leader moved to store \(target)")
        }

        await waitForProgress(engine, 0.35)
        if let row = engine.monitor.snapshot().regions.first(where: { $0.phase == .queued }),
           let region = await cluster.pd.region(id: row.id), let middle = Self.middle(region) {
            if (try? await cluster.pd.split(regionID: region.id, at: [middle])) != nil {
                engine.monitor.event(.warn, region: region.id, "drill: region split at \(KeyDescription(middle).summary)")
            }
        }

        await waitForProgress(engine, 0.5)
        cluster.makeBusy(store: 3, for: .seconds(2))
        engine.monitor.event(.warn, store: 3, "drill: store 3 is busy for 2 s")
    }

    private func waitForProgress(_ engine: RestoreEngine, _ fraction: Double) async {
        while !Task.isCancelled {
            let s = engine.monitor.snapshot()
            if s.phase == .done || s.phase == .checksum { return }
            if s.totalBytes > 0, Double(s.doneBytes) >= fraction * Double(s.totalBytes) { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// A key between a region's bounds: the memcomparable encoding of a key halfway in its table.
    static func middle(_ region: Region) -> [UInt8]? {
        guard let start = try? Memcomparable.decodeAll(region.startKey), let end = try? Memcomparable.decodeAll(region.endKey),
              case let .record(table, low)? = TableCodec.decode(start)
        else { return nil }
        let high: Int64 = if case let .record(t, h)? = TableCodec.decode(end), t == table { h } else { low + 2 }
        guard high - low >= 2 else { return nil }
        return Memcomparable.encode(TableCodec.recordKey(tableID: table, handle: low + (high - low) / 2))
    }
}
