import Foundation
import KeyCodec
import ClusterAPI
import RestoreDriver

/// The main screen, drawn from a snapshot: header, phases, progress, rates, counts, the region
/// table, stores and events, and the key line. A pure function of its inputs, so tests render it
/// into a `ScreenBuffer` and read it back. Only the visible rows are drawn.
public struct DashboardView {
    public static let minimumSize = (width: 60, height: 16)

    public var snapshot: RestoreSnapshot
    public var state: ConsoleState
    /// Indices into `snapshot.regions`, in display order.
    public var order: DisplayOrder
    public var unicode: Bool
    public var now: Date
    /// The window of the event history that the `e` overlay shows.
    public var history = EventHistoryWindow()

    public init(snapshot: RestoreSnapshot, state: ConsoleState, order: DisplayOrder, unicode: Bool, now: Date = Date()) {
        self.snapshot = snapshot
        self.state = state
        self.order = order
        self.unicode = unicode
        self.now = now
    }

    var box: BoxStyle { unicode ? .unicode : .ascii }

    /// The region table's top border: below the header, phases, total, rate, counts and waits.
    public static let tableTop = 6

    /// Rows of the region table that fit on a screen of `height`.
    public static func tableRows(height: Int, stores: Int) -> Int {
        max(1, height - tableTop - storesPanelHeight(height: height, stores: stores) - 1 - 3)
    }

    /// The Stores panel: a row per store, up to a quarter of the screen (at least 3).
    static func storesPanelHeight(height: Int, stores: Int) -> Int {
        min(stores, height < 30 ? 3 : max(3, height / 4)) + 2
    }

    /// `fitting` of the stores, in id order: when not all fit, the impaired (down, panicked) and
    /// then the busiest come first.
    static func storesFirst(_ stores: [StoreRow], fitting: Int) -> [StoreRow] {
        guard stores.count > fitting else { return stores }
        let chosen = stores.sorted { a, b in
            if a.state.isUp != b.state.isUp { return !a.state.isUp }
            return (a.bytesPerSecond, b.id) > (b.bytesPerSecond, a.id)
        }.prefix(fitting)
        return chosen.sorted { $0.id < $1.id }
    }

    public func render(width: Int, height: Int) -> ScreenBuffer {
        var buffer = ScreenBuffer(width: width, height: height)
        guard width >= Self.minimumSize.width, height >= Self.minimumSize.height else {
            let lines = ["terminal too small", "\(width)x\(height), need \(Self.minimumSize.width)x\(Self.minimumSize.height)", "q quits"]
            for (i, line) in lines.enumerated() {
                buffer.write(line, x: max(0, (width - line.count) / 2), y: max(0, height / 2 - 1 + i), role: i == 0 ? .error : .dim)
            }
            return buffer
        }
        drawHeader(&buffer, width: width)
        let storesHeight = Self.storesPanelHeight(height: height, stores: snapshot.stores.count)
        let tableTop = Self.tableTop
        let tableHeight = height - tableTop - storesHeight - 1
        drawRegionTable(&buffer, Rect(x: 0, y: tableTop, width: width, height: tableHeight))
        let bottom = tableTop + tableHeight
        let storesWidth = width >= 100 ? 54 : width / 2
        drawStores(&buffer, Rect(x: 0, y: bottom, width: storesWidth, height: storesHeight))
        drawEvents(&buffer, Rect(x: storesWidth, y: bottom, width: width - storesWidth, height: storesHeight))
        drawFooter(&buffer, y: height - 1, width: width)
        switch state.overlay {
        case .help: HelpOverlay(drills: state.drills, unicode: unicode).render(into: &buffer)
        case .stores: StoresOverlay(stores: snapshot.stores, unicode: unicode).render(into: &buffer)
        case .tables: TablesOverlay(tables: snapshot.tables, unicode: unicode).render(into: &buffer)
        case .history:
            EventHistoryOverlay(window: history, search: state.historySearch, editing: state.historyEditing, unicode: unicode).render(into: &buffer)
        case let .detail(id): if let row = snapshot.regions.row(id, at: state.selectedRowIndex) { RegionDetailView(row: row, unicode: unicode, now: now).render(into: &buffer) }
        case .confirmQuit: drawQuitConfirm(&buffer)
        case .filterInput, .none: break
        }
        return buffer
    }

    // MARK: header

    func drawHeader(_ b: inout ScreenBuffer, width: Int) {
        b.fill(Rect(x: 0, y: 0, width: width, height: 1), with: Cell(" ", role: .header))
        let rss = snapshot.memory.residentBytes > 0 ? "RSS \(ByteFormat.size(snapshot.memory.residentBytes))  " : ""
        let time = rss + Self.timeFormatter.string(from: now)
        let insecure = snapshot.insecureTLS ? "  TLS VERIFY OFF" : ""
        let title = " restore-console  \(snapshot.source)  ->  \(snapshot.clusterLocation) (\(snapshot.storeCount) stores, \(snapshot.replicas) replicas)\(insecure)"
        b.write(fit(title, width - time.count - 2), x: 0, y: 0, role: .header)
        b.write(time, x: width - time.count - 1, y: 0, role: .header)

        // Phases.
        var x = b.write(" Phase  ", x: 0, y: 1, role: .label)
        for phase in [RestorePhase.splitting, .restoring, .checksum] {
            let started = snapshot.phaseStarted[phase]
            let ended = snapshot.phaseEnded[phase]
            let (word, role): (String, ColorRole) =
                ended != nil ? ("done", .ok) : (snapshot.phase == phase ? ("running", .info) : ("waiting", .dim))
            var text = "\(phase.rawValue) [\(word)"
            if let started { text += " " + clockText((ended ?? now).timeIntervalSince(started)) }
            text += "]   "
            if phase == .checksum, let verdict = snapshot.checksum {
                let word = switch verdict { case .matched: "match"; case .mismatched: "MISMATCH"; case .unread: "UNREAD" }
                x += b.write("\(phase.rawValue) [\(word)]   ", x: x, y: 1, role: verdict == .matched ? .ok : .error)
                continue
            }
            if phase == .checksum, ended != nil {
                // A cluster whose stores the client cannot read (over the wire) has no checksum.
                x += b.write("\(phase.rawValue) [skipped]   ", x: x, y: 1, role: .warn)
                continue
            }
            x += b.write(text, x: x, y: 1, role: role)
        }

        // Total.
        let fraction = snapshot.totalBytes > 0 ? Double(snapshot.doneBytes) / Double(snapshot.totalBytes) : 0
        b.write(" Total  ", x: 0, y: 2, role: .label)
        let eta = snapshot.eta.map { "  ETA \(clockText($0))" } ?? ""
        let figures = String(format: " %5.1f%%  ", fraction * 100) + "\(ByteFormat.size(snapshot.doneBytes))/\(ByteFormat.size(snapshot.totalBytes))  \(Self.count(snapshot.doneKVs))/\(Self.count(snapshot.totalKVs)) kvs\(eta)"
        let barWidth = max(10, width - 8 - figures.count - 1)
        b.bar(x: 8, y: 2, width: barWidth, fraction: fraction, unicode: unicode)
        b.write(figures, x: 8 + barWidth, y: 2)

        // Rate and per-store sparklines.
        x = b.write(" Rate   ", x: 0, y: 3, role: .label)
        x += b.write(fit(ByteFormat.rate(snapshot.bytesPerSecond), 11), x: x, y: 3, role: .info)
        let limit = snapshot.stores.first?.rateLimit ?? 0
        let limitText = "limit \(limit == 0 ? "none" : ByteFormat.rate(Double(limit)))/store  [+/-]"
        // Every store, each as " s2 ▁▂▃ 1.0 MiB/s": sparklines go first when they do not all fit,
        // then the quietest healthy stores, counted in "+N more".
        let room = width - x - limitText.count - 2
        let more = 10  // " +NN more"
        var sparkWidth = width >= 110 ? 8 : 0
        if snapshot.stores.count * (16 + sparkWidth) > room { sparkWidth = 0 }
        let fitting = snapshot.stores.count * 16 <= room ? snapshot.stores.count : max(0, (room - more) / 16)
        let shown = Self.storesFirst(snapshot.stores, fitting: fitting)
        for store in shown {
            x += b.write(" s\(store.id) ", x: x, y: 3, role: store.state.isUp ? .label : .error)
            if sparkWidth > 0 {
                x += b.write(Sparkline.render(store.history, width: sparkWidth, maximum: Double(max(limit, 1)), unicode: unicode), x: x, y: 3, role: .graph)
                x += b.write(" ", x: x, y: 3)
            }
            x += b.write(fit(ByteFormat.rate(store.bytesPerSecond), 10), x: x, y: 3)
        }
        if shown.count < snapshot.stores.count { b.write(" +\(snapshot.stores.count - shown.count) more", x: x, y: 3, role: .dim) }
        b.write(limitText, x: width - limitText.count - 1, y: 3, role: .dim)

        // Counts by state.
        x = b.write(" Regions \(Self.count(UInt64(snapshot.regions.count))): ", x: 0, y: 4, role: .label)
        for phase in RegionPhase.allCases {
            let n = snapshot.counts[phase] ?? 0
            guard n > 0 || phase == .ingested || phase == .failed else { continue }
            x += b.write("\(n) \(phase.rawValue)  ", x: x, y: 4, role: n > 0 ? PeerCell.role(phase) : .dim)
        }

        // What the restore waits for, by reason (`w` filters by each).
        b.write(" Waits  ", x: 0, y: 5, role: .label)
        let waits = state.waits.isEmpty ? "nothing" : String(WaitSummary.text(state.waits).dropFirst("waiting: ".count))
        b.write(fit(waits, width - 9), x: 8, y: 5, role: state.waits.isEmpty ? .dim : .warn)
    }

    static let timeFormatter: DateFormatter = {
        let f = DateFormatter()
        f.dateFormat = "HH:mm:ss"
        return f
    }()

    static func count(_ n: UInt64) -> String {
        n >= 10_000_000 ? String(format: "%.1fM", Double(n) / 1e6) : n >= 100_000 ? String(format: "%.0fk", Double(n) / 1e3) : "\(n)"
    }

    // MARK: region table

    /// Column widths for a table `width` wide; columns drop in a fixed order as it narrows.
    struct Columns {
        var range: Int
        var lastEvent: Int
        var peerWidth: Int
    }

    func columns(width: Int) -> Columns {
        let peers = max(1, snapshot.replicas)
        let fixed = 7 + 7 + 7 + 4 + 9 + 2  // id, epoch, leader, att, waiting, borders
        var peerWidth = 12  // "s12* dl 100%" and a space
        var range = 30, last = 22
        if width - fixed - peers * peerWidth - range - last < 0 { last = max(0, width - fixed - peers * peerWidth - range) }
        if last < 12 { last = 0 }
        if width - fixed - peers * peerWidth - range - last < 0 { range = max(0, width - fixed - peers * peerWidth - last) }
        if range < 14 { range = 0 }
        if width - fixed - peers * peerWidth - range - last < 0 { peerWidth = max(5, (width - fixed - range - last) / peers) }
        let spare = width - fixed - peers * peerWidth - range - last
        if last > 0 { last += max(0, spare) } else if range > 0 { range += max(0, spare) }
        return Columns(range: range, lastEvent: last, peerWidth: peerWidth)
    }

    /// Draws the rows on screen and returns how many it drew: never more than fit in `rect`.
    @discardableResult
    func drawRegionTable(_ b: inout ScreenBuffer, _ rect: Rect) -> Int {
        let filter = state.filter.isEmpty ? "none" : state.filter
        b.box(rect, title: "Regions (sort: \(state.sort.rawValue), filter: \(filter))  \(order.count) shown", style: box)
        let inner = rect.inset(by: 1)
        let c = columns(width: inner.width)
        var header = fit("id", 7) + (c.range > 0 ? fit("range", c.range) : "") + fit("epoch", 7) + fit("leader", 7)
        header += fit("peers (store state, * leader)", c.peerWidth * max(1, snapshot.replicas))
        header += fit("att", 4) + fit("waiting", 9) + (c.lastEvent > 0 ? fit("last event", c.lastEvent) : "")
        b.write(header, x: inner.x, y: inner.y, role: .label, clip: inner)
        let visible = inner.height - 1
        guard visible > 0 else { return 0 }
        let top = min(state.scroll, max(0, order.count - visible))
        var drawn = 0
        for line in 0..<visible {
            let position = top + line
            guard position < order.count else { break }
            drawn += 1
            let row = snapshot.regions[order[position]]
            let y = inner.y + 1 + line
            let selected = position == state.selectedIndex
            drawRow(&b, row, x: inner.x, y: y, width: inner.width, columns: c)
            if selected { b.paint(Rect(x: inner.x, y: y, width: inner.width, height: 1), role: .selected) }
        }
        if order.isEmpty {
            b.write(snapshot.regions.isEmpty ? "waiting for the split..." : "no region matches the filter", x: inner.x + 2, y: inner.y + 2, role: .dim)
        }
        return drawn
    }

    /// One region as cells: a pure function of the row, so it costs the same for any table size.
    func drawRow(_ b: inout ScreenBuffer, _ row: RegionRow, x: Int, y: Int, width: Int, columns c: Columns) {
        let clip = Rect(x: x, y: y, width: width, height: 1)
        var col = x
        col += b.write(fit("\(row.id)", 7), x: col, y: y, role: PeerCell.role(row.phase), clip: clip)
        if c.range > 0 { col += b.write(fit(RangeText.describe(row.startKey, row.endKey), c.range - 1) + " ", x: col, y: y, clip: clip) }
        col += b.write(fit(row.epoch.description, 7), x: col, y: y, role: .dim, clip: clip)
        col += b.write(fit(row.leaderStore.map { "s\($0)" } ?? "-", 7), x: col, y: y, clip: clip)
        for peer in row.peers.prefix(max(1, snapshot.replicas)) {
            let (text, role) = PeerCell.cell(peer)
            b.write(fit(text, c.peerWidth), x: col, y: y, role: role, bold: peer.isLeader, clip: clip)
            col += c.peerWidth
        }
        col += (max(1, snapshot.replicas) - min(row.peers.count, max(1, snapshot.replicas))) * c.peerWidth
        col += b.write(fit(row.attempts > 0 ? "\(row.attempts)" : "", 4), x: col, y: y, clip: clip)
        let moving = row.phase == .downloading || row.phase == .ingesting || row.phase == .ready
        let waited = now.timeIntervalSince(row.since)
        let waiting = row.phase == .ingested || row.phase == .queued || (moving && waited < 2) ? "" : String(format: "%.1f s", waited)
        col += b.write(fit(waiting, 9), x: col, y: y, role: row.phase == .failed ? .error : .warn, clip: clip)
        if c.lastEvent > 0 {
            let event = row.waitingFor?.text ?? (row.phase == .ingested ? "ingested" : row.phase == .paused ? "paused by operator" : row.lastError ?? row.phase.rawValue)
            let role: ColorRole = row.phase == .failed ? .error : row.waitingFor != nil || row.phase == .retrying ? .warn : .dim
            b.write(fit(event, c.lastEvent), x: col, y: y, role: role, clip: clip)
        }
    }

    // MARK: stores and events

    func drawStores(_ b: inout ScreenBuffer, _ rect: Rect) {
        b.box(rect, title: "Stores", style: box)
        let inner = rect.inset(by: 1)
        let all = snapshot.stores.count
        let rows = all > inner.height ? Self.storesFirst(snapshot.stores, fitting: max(0, inner.height - 1)) : snapshot.stores
        if rows.count < all {
            b.write(fit("+\(all - rows.count) more stores (v shows all)", inner.width), x: inner.x, y: inner.maxY - 1, role: .dim, clip: inner)
        }
        for (i, store) in rows.enumerated() {
            let y = inner.y + i
            let (stateText, role): (String, ColorRole) = switch store.state {
            case .up: ("up", .ok)
            case .down: ("down", .error)
            case .panicked: ("PANIC", .error)
            }
            var x = inner.x
            x += b.write(fit("s\(store.id) \(stateText)", 10), x: x, y: y, role: role, clip: inner)
            if case let .panicked(reason) = store.state {
                b.write(fit(reason, inner.maxX - x), x: x, y: y, role: .error, clip: inner)
                continue
            }
            let text = "leaders \(store.leaders)  dl \(store.downloadsInFlight)/\(store.downloadSlots)  q \(store.ingestsQueued)  \(ByteFormat.rate(store.bytesPerSecond))"
            b.write(fit(text, inner.maxX - x), x: x, y: y, clip: inner)
        }
    }

    func drawEvents(_ b: inout ScreenBuffer, _ rect: Rect) {
        b.box(rect, title: "Events", style: box)
        let inner = rect.inset(by: 1)
        let shown = snapshot.events.suffix(inner.height).reversed()
        for (i, event) in shown.enumerated() {
            let role: ColorRole = switch event.level {
            case .info: .normal
            case .warn: .warn
            case .error: .error
            }
            let prefix = Self.timeFormatter.string(from: event.time) + " " + (event.regionID.map { "r\($0) " } ?? "")
            b.write(fit(prefix + event.message, inner.width), x: inner.x, y: inner.y + i, role: role, clip: inner)
        }
    }

    func drawFooter(_ b: inout ScreenBuffer, y: Int, width: Int) {
        if state.overlay == .filterInput {
            b.write(" / " + state.filter + "_", x: 0, y: y, role: .key)
            b.write("  Enter apply  Esc clear   state:failed table:104 store:2 or any text", x: 3 + state.filter.count + 1, y: y, role: .dim)
            return
        }
        if let message = state.message {
            b.write(fit(" " + message, width), x: 0, y: y, role: .info)
            return
        }
        let keys: [(String, String)] = [("p", "pause"), ("P", "pause all"), ("r", "retry"), ("R", "retry failed"), ("Enter", "detail"), ("/", "filter"),
                                        ("s", "sort"), ("+/-", "rate"), ("t", "theme"), ("?", "help"), ("q", "quit")]
        var x = 1
        for (key, action) in keys {
            guard x + key.count + action.count + 2 < width else { break }
            x += b.write(key, x: x, y: y, role: .key)
            x += b.write(" \(action)  ", x: x, y: y, role: .dim)
        }
    }

    func drawQuitConfirm(_ b: inout ScreenBuffer) {
        let lines = ["Quit restore-console?", "", "Progress is checkpointed: the same command resumes.", "", "y quit    n stay"]
        let w = 56, h = lines.count + 2
        let rect = Rect(x: (b.width - w) / 2, y: (b.height - h) / 2, width: w, height: h)
        b.fill(rect)
        b.box(rect, title: "Quit", style: box, role: .warn)
        for (i, line) in lines.enumerated() { b.write(line, x: rect.x + 2, y: rect.y + 1 + i, role: i == 0 ? .title : .normal) }
    }
}
