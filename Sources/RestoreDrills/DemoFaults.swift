import KeyCodec
import ClusterAPI
import EmbeddedCluster
import RestoreDriver

/// The faults the demo injects while it restores, so that retries show: a failed download, a
/// leader change, a split of a waiting region (EpochNotMatch) and a busy store.
public struct DemoFaults: Sendable {
    public init() {}

    public func run(against engine: RestoreEngine) async {
        await waitForProgress(engine, 0.05)
        engine.drillFailDownload(store: 2)

        await waitForProgress(engine, 0.2)
        if let row = engine.monitor.snapshot().regions.first(where: { $0.phase == .queued || $0.phase == .downloading }) {
            await engine.drillTransferLeader(region: row.id)
        }

        await waitForProgress(engine, 0.35)
        if let row = engine.monitor.snapshot().regions.first(where: { $0.phase == .queued && Self.middle(Region(id: $0.id, startKey: $0.startKey, endKey: $0.endKey, epoch: $0.epoch, peers: [])) != nil }) {
            await engine.drillSplit(region: row.id)
        }

        await waitForProgress(engine, 0.5)
        engine.drillBusy(store: 3, for: .seconds(2))
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
