import KeyCodec
import ClusterAPI
import RestoreDriver

/// `v`: every store with all its figures, whatever the width of the Stores panel: its state and
/// panic reason, leaders, downloads in flight, ingests queued, rate against its limit, bytes
/// downloaded, and its SST files and their bytes on disk (when the cluster shows them).
public struct StoresOverlay {
    public var stores: [StoreRow]
    public var unicode: Bool

    /// The store's line; `compact`, with the Stores panel's short words.
    static func line(_ store: StoreRow, compact: Bool = false) -> String {
        let state: String = switch store.state {
        case .up: "up"
        case .down: "down"
        case let .panicked(reason): "PANICKED: \(reason)"
        }
        guard store.state.isUp else { return "s\(store.id)  \(state)" }
        let limit = store.rateLimit == 0 ? "no limit" : "of \(ByteFormat.rate(Double(store.rateLimit)))"
        let ssts = store.sstFiles.map { "  SSTs \($0.count) (\(ByteFormat.size($0.bytes)))" } ?? ""
        guard compact else {
            return "s\(store.id)  up  leaders \(store.leaders)  downloads \(store.downloadsInFlight)/\(store.downloadSlots)  ingests queued \(store.ingestsQueued)  "
                + "\(ByteFormat.rate(store.bytesPerSecond)) \(limit)  downloaded \(ByteFormat.size(store.bytesDownloaded))" + ssts
        }
        return "s\(store.id)  up  leaders \(store.leaders)  dl \(store.downloadsInFlight)/\(store.downloadSlots)  ingest q \(store.ingestsQueued)  "
            + "\(ByteFormat.rate(store.bytesPerSecond)) \(limit)  in \(ByteFormat.size(store.bytesDownloaded))" + ssts
    }

    public func render(into b: inout ScreenBuffer) {
        // Every store in one form: the full words where all fit, the panel's short ones otherwise.
        var lines = stores.map { Self.line($0) }
        if lines.contains(where: { DisplayWidth.columns($0) > b.width - 6 }) { lines = stores.map { Self.line($0, compact: true) } }
        let w = min(b.width - 2, max(40, (lines.map { DisplayWidth.columns($0) }.max() ?? 0) + 4))
        let h = min(b.height - 2, lines.count + 2)
        let rect = Rect(x: (b.width - w) / 2, y: max(1, (b.height - h) / 2), width: w, height: h)
        b.fill(rect)
        let hidden = max(0, lines.count - (h - 2))
        b.box(rect, title: "Stores \(stores.count)\(hidden > 0 ? ", \(hidden) below" : "")  (any key closes)", style: unicode ? .unicode : .ascii)
        for (i, (store, text)) in zip(stores, lines).prefix(h - 2).enumerated() {
            b.write(fit(text, w - 4), x: rect.x + 2, y: rect.y + 1 + i, role: store.state.isUp ? .normal : .error)
        }
    }
}
