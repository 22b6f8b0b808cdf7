import KeyCodec
import RestoreDriver

/// `T`: each table of the restore: its ids, regions, files, kvs and bytes restored of its whole,
/// and the outcome of its checksum.
public struct TablesOverlay {
    public var tables: [TableRow]
    public var unicode: Bool

    static let header = ["table", "id", "regions", "files", "kvs", "bytes", "checksum"]

    static func cells(_ t: TableRow) -> [String] {
        let ids = t.newIDs.isEmpty ? t.oldIDs.map(String.init).joined(separator: ",") : zip(t.oldIDs, t.newIDs).map { "\($0)->\($1)" }.joined(separator: ",")
        return [t.name, ids, "\(t.regions)", "\(t.filesDone)/\(t.files)", "\(t.kvsDone)/\(t.kvs)", "\(ByteFormat.size(t.bytesDone))/\(ByteFormat.size(t.bytes))", t.checksum.rawValue]
    }

    public func render(into b: inout ScreenBuffer) {
        let rows = tables.map(Self.cells)
        let widths = Self.header.indices.map { i in ([Self.header] + rows).map { DisplayWidth.columns($0[i]) }.max() ?? 0 }
        let lineWidth = widths.reduce(0, +) + 2 * (widths.count - 1)
        let w = min(b.width - 2, max(48, lineWidth + 4))
        let h = min(b.height - 2, max(3, rows.count + 3))
        let rect = Rect(x: (b.width - w) / 2, y: max(1, (b.height - h) / 2), width: w, height: h)
        b.fill(rect)
        let hidden = max(0, rows.count - (h - 3))
        b.box(rect, title: "Tables \(tables.count)\(hidden > 0 ? ", \(hidden) below" : "")  (any key closes)", style: unicode ? .unicode : .ascii)
        guard !tables.isEmpty else {
            b.write(fit("a raw backup holds no tables", w - 4), x: rect.x + 2, y: rect.y + 1, role: .dim)
            return
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in i == cells.count - 1 ? cell : cell + String(repeating: " ", count: max(0, widths[i] - DisplayWidth.columns(cell))) }.joined(separator: "  ")
        }
        b.write(fit(line(Self.header), w - 4), x: rect.x + 2, y: rect.y + 1, role: .title)
        for (i, (table, cells)) in zip(tables, rows).prefix(h - 3).enumerated() {
            let role: ColorRole = table.checksum == .mismatched ? .error : table.filesDone == table.files ? .ok : .normal
            b.write(fit(line(cells), w - 4), x: rect.x + 2, y: rect.y + 2 + i, role: role)
        }
    }
}

/// `e`: the whole event history, newest at the bottom, scrolled with the arrows and searched
/// with `/`.
public struct EventHistoryOverlay {
    /// The events shown, of those that match the search.
    public var window: EventHistoryWindow
    public var search: String
    public var editing: Bool
    public var unicode: Bool

    /// Lines of events that the overlay shows on a screen this tall.
    public static func visibleLines(height: Int) -> Int { max(1, height - 4) }

    static func line(_ e: RestoreEvent) -> String {
        var where_ = ""
        if let region = e.regionID { where_ += " region \(region)" }
        if let store = e.storeID { where_ += " store \(store)" }
        return "\(DashboardView.timeFormatter.string(from: e.time)) \(e.level.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0))\(where_.isEmpty ? "" : "[\(where_.dropFirst())] ")\(e.message)"
    }

    public func render(into b: inout ScreenBuffer) {
        let rect = Rect(x: 0, y: 1, width: b.width, height: b.height - 2)
        b.fill(rect)
        var what = search.isEmpty ? "\(window.matches) events" : "\(window.matches) events with '\(search)'"
        if window.dropped > 0 { what += " (\(window.dropped) older ones in the log file only)" }
        b.box(rect, title: "Event history: \(what)  Up/Down PgUp/PgDn scroll  / search  Esc closes", style: unicode ? .unicode : .ascii)
        let rows = Self.visibleLines(height: b.height)
        let events = window.events.suffix(rows)
        for (i, event) in events.enumerated() {
            let role: ColorRole = event.level == .error ? .error : event.level == .warn ? .warn : .normal
            b.write(fit(Self.line(event), rect.width - 4), x: 2, y: rect.y + 1 + rows - events.count + i, role: role)
        }
        if editing || !search.isEmpty {
            b.write(fit("search: \(search)\(editing ? "_" : "")  (Enter keeps, Esc clears)", rect.width - 4), x: 2, y: rect.maxY - 1, role: .key)
        }
    }
}
