import Foundation
import KeyCodec
import ClusterAPI
import RestoreDriver

/// Enter: one region's leader, epoch and range, and every attempt on every peer.
public struct RegionDetailView {
    public var row: RegionRow
    public var unicode: Bool
    public var now: Date

    public func render(into b: inout ScreenBuffer) {
        let rect = Rect(x: 2, y: 2, width: b.width - 4, height: b.height - 4)
        b.fill(rect)
        b.box(rect, title: "Region \(row.id)  (Esc closes)", style: unicode ? .unicode : .ascii)
        let inner = rect.inset(by: 1)
        var y = inner.y
        func line(_ label: String, _ value: String, _ role: ColorRole = .normal) {
            guard y < inner.maxY else { return }
            b.write(fit(label, 12), x: inner.x + 1, y: y, role: .label)
            b.write(fit(value, inner.width - 14), x: inner.x + 13, y: y, role: role)
            y += 1
        }
        line("state", "\(row.phase.rawValue) for \(String(format: "%.1f", now.timeIntervalSince(row.since))) s", PeerCell.role(row.phase))
        line("range", RangeText.describe(row.startKey, row.endKey))
        line("keys", "[\(row.startKey.hexString), \(row.endKey.isEmpty ? "+inf" : row.endKey.hexString))", .dim)
        line("epoch", "version \(row.epoch.version), conf_ver \(row.epoch.confVer)")
        line("leader", row.leaderStore.map { "store \($0)" } ?? "none")
        line("peers", row.peers.map { PeerCell.cell($0).text }.joined(separator: "  "))
        line("file sets", "\(row.fileSetsDone)/\(row.fileSetsTotal), \(ByteFormat.size(row.bytes)) restored")
        if let waiting = row.waitingFor { line("waiting", waiting.text, .warn) }
        if let error = row.lastError { line("last error", error, row.phase == .failed ? .error : .warn) }
        y += 1
        guard y < inner.maxY else { return }
        b.write("Attempts (newest first)", x: inner.x + 1, y: y, role: .title)
        y += 1
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss.SSS"
        b.write(fit("time", 14) + fit("store", 7) + fit("step", 10) + fit("set", 5) + fit("took", 9) + fit("bytes", 11) + "outcome", x: inner.x + 1, y: y, role: .label, clip: inner)
        y += 1
        for attempt in row.history.reversed() where y < inner.maxY {
            let took = Double(attempt.duration.components.seconds) + Double(attempt.duration.components.attoseconds) * 1e-18
            let text = fit(formatter.string(from: attempt.started), 14) + fit("s\(attempt.storeID)", 7) + fit(attempt.step.rawValue, 10)
                + fit(attempt.fileSet >= 0 ? "\(attempt.fileSet)" : "", 5) + fit(String(format: "%.2f s", took), 9) + fit(attempt.bytes > 0 ? ByteFormat.size(attempt.bytes) : "", 11)
            b.write(text, x: inner.x + 1, y: y, clip: inner)
            b.write(fit(attempt.error ?? "ok", max(0, inner.width - text.count - 1)), x: inner.x + 1 + text.count, y: y, role: attempt.error == nil ? .ok : .error, clip: inner)
            y += 1
        }
        if row.history.isEmpty { b.write("no attempts yet", x: inner.x + 1, y: y, role: .dim) }
    }
}
