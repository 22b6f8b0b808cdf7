import Foundation
import Testing
@testable import ConsoleUI
@testable import KeyCodec
@testable import ClusterAPI
@testable import RestoreDriver

@Suite struct DashboardViewTests {
    @Test func wideScreenShowsEverySection() throws {
        var state = ConsoleState()
        state.selectedIndex = 5  // select the last row, so the others keep their colours
        let b = render(sampleSnapshot(), state)
        let text = b.lines.joined(separator: "\n")
        for expected in ["restore-console", "s3://prod-bk/2026-11-25", "Phase", "split&scatter [done", "download&ingest [running", "checksum [waiting]",
                         "50.0%", "Rate", "limit 64.0 MiB/s/store", "Regions 6:", "1 failed", "Regions (sort: stuck first", "t143_r 0 .. t143_r 4000",
                         "s1 dl 73%", "s1 busy", "s2 paused", "s1 FAILED", "s2 ok", "s3 rdy", "peers (store state, * leader)", "Stores", "s3 PANIC", "ingest failed on apply", "Events",
                         "NotLeader: leader is now s1", "q quit"] {
            #expect(text.contains(expected), "missing \(expected)")
        }
        // Roles: each peer label in its colour role; the leader is marked.
        let failed = try #require(find("s1 FAILED", in: b))
        #expect(b[failed.x, failed.y].role == .error)
        let dl = try #require(find("s1 dl 73%", in: b))
        #expect(b[dl.x, dl.y].role == .info)
        let busy = try #require(find("s1 busy", in: b))
        #expect(b[busy.x, busy.y].role == .warn)
        #expect(text.contains("s2* dl 41%") && text.contains("s1* ok"), "each peer names its store, and the leader is starred")
        // Stuck first: the failed region leads the table; the selected row is highlighted whole.
        let firstRow = try #require(find("id     range", in: b)).y + 1
        #expect(b.line(firstRow).contains("s1 FAILED"))
        #expect(b[2, firstRow + 5].role == .selected)
        #expect(b[2, firstRow].role != .selected)
    }

    /// The checksum's verdict, each in its own word and colour: a checksum that could not be read
    /// is never shown as a mismatch.
    @Test(arguments: [(ChecksumVerdict.matched, "checksum [match]", ColorRole.ok), (.mismatched, "checksum [MISMATCH]", .error), (.unread("store 2 is down"), "checksum [UNREAD]", .error)])
    func theChecksumVerdictIsNamed(verdict: ChecksumVerdict, word: String, role: ColorRole) throws {
        var snapshot = sampleSnapshot()
        snapshot.phase = .checksum
        snapshot.checksum = verdict
        let b = render(snapshot, ConsoleState())
        let at = try #require(find(word, in: b), "\(b.line(1))")
        #expect(b[at.x, at.y].role == role)
    }

    @Test func narrowScreenDropsColumnsInOrder() {
        let b = render(sampleSnapshot(), width: 80, height: 24)
        let text = b.lines.joined(separator: "\n")
        #expect(!text.contains("t143_r 0 .. t143_r 4000"), "the range column goes first")
        #expect(text.contains("s1 FAILED") && text.contains("s1 dl 73%"), "peers stay")
        #expect(b.lines.allSatisfy { $0.count == 80 })
        #expect(!text.contains("▁▂"), "sparklines drop on narrow screens")
    }

    @Test func aTinyTerminalSaysSo() {
        let b = render(sampleSnapshot(), width: 40, height: 10)
        #expect(b.lines.joined().contains("terminal too small"))
    }

    @Test func overlays() {
        var state = ConsoleState()
        state.overlay = .help
        state.drills = true
        let help = render(sampleSnapshot(), state).lines.joined(separator: "\n")
        for key in ["Navigate", "Control", "View", "Drills", "pause / resume all", "retry every failed region", "filter", "next theme", "quit"] {
            #expect(help.contains(key), "help lacks \(key)")
        }
        state.overlay = .detail(regionID: 1109)
        let detail = render(sampleSnapshot(), state).lines.joined(separator: "\n")
        #expect(detail.contains("Region 1109") && detail.contains("Attempts") && detail.contains("sha256 mismatch") && detail.contains("epoch"))
        state.overlay = .confirmQuit
        #expect(render(sampleSnapshot(), state).lines.joined().contains("the same command resumes"))
    }

    @Test func asciiFallback() {
        let order = RegionOrdering.order(sampleSnapshot().regions, sort: .stuckFirst, filter: "")
        let b = DashboardView(snapshot: sampleSnapshot(), state: ConsoleState(), order: DisplayOrder(sorted: order, rows: sampleSnapshot().regions, sort: .stuckFirst, filter: ""), unicode: false).render(width: 120, height: 36)
        let text = b.lines.joined()
        #expect(!text.contains("┌") && !text.contains("▁") && text.contains("+-"))
    }

    @Test func renderingOnlyTouchesVisibleRows() {
        // 100,000 regions render in the same shape as 6: only the rows on screen are drawn.
        let big = sampleSnapshot(regions: 100_000)
        var state = ConsoleState()
        state.scroll = 50_000
        let order = RegionOrdering.order(big.regions, sort: state.sort, filter: state.filter)
        let view = DashboardView(snapshot: big, state: state, order: DisplayOrder(sorted: order, rows: big.regions, sort: state.sort, filter: state.filter), unicode: true)
        var b = ScreenBuffer(width: 120, height: 30)
        let table = Rect(x: 0, y: 0, width: 120, height: 30)
        let drawn = view.drawRegionTable(&b, table)
        #expect(drawn == table.height - 3, "the rows between the border and header lines, and no more")
        // The rows on screen are exactly the ones at the scroll position, in order.
        let ids = (2..<(2 + drawn)).map { b.line($0).dropFirst().prefix(7).trimmingCharacters(in: .whitespaces) }
        #expect(ids == order[50_000..<(50_000 + drawn)].map { "\(big.regions[$0].id)" })
    }
}

@Suite struct ManyStoresTests {
    /// `count` stores with rates from 100 KiB/s up; store 3 panicked and store 5 down.
    func snapshot(stores count: Int) -> RestoreSnapshot {
        var s = sampleSnapshot(regions: 40)
        s.stores = (1...count).map { (id: Int) -> StoreRow in
            let state: StoreState = id == 3 ? .panicked(reason: "ingest failed on apply") : id == 5 ? .down : .up
            let rate = Double(id * 100 * 1024 + (id % 2) * 1023 * 1024)
            return StoreRow(id: UInt64(id), state: state, leaders: id, downloadsInFlight: 2, downloadSlots: 4, ingestsQueued: 1, bytesPerSecond: rate,
                            rateLimit: 64 << 20, bytesDownloaded: 1 << 30, bytesIngested: 0, sstFiles: SSTFiles(count: 40, bytes: 2 << 30), history: [1e6, 2e6, 3e6])
        }
        s.storeCount = count
        return s
    }

    /// `T` lists every table with what is in of it and its checksum; any key closes it.
    @Test func theTablesViewShowsEachTable() {
        var snapshot = snapshot(stores: 3)
        var t1 = TableRow(name: "shop.orders", oldIDs: [100], newIDs: [204], regions: 7, files: 12, kvs: 40_000, bytes: 3 << 20)
        t1.filesDone = 12
        t1.kvsDone = 40_000
        t1.bytesDone = 3 << 20
        t1.checksum = .matched
        var t2 = TableRow(name: "shop.audit", oldIDs: [101, 102], newIDs: [205, 206], regions: 2, files: 4, kvs: 900, bytes: 1 << 20)
        t2.filesDone = 1
        t2.checksum = .mismatched
        snapshot.tables = [t1, t2]
        var c = ConsoleController()
        c.refreshOrder(snapshot)
        _ = c.handle(.character("T"), snapshot: snapshot, rate: 0)
        #expect(c.state.overlay == .tables)
        let buffer = render(snapshot, c.state)
        let text = buffer.lines.joined(separator: "\n")
        #expect(text.contains("Tables 2"))
        #expect(text.contains("shop.orders  100->204"), "\(text)")
        #expect(text.contains("12/12") && text.contains("40000/40000") && text.contains("3.0 MiB/3.0 MiB") && text.contains("matched"))
        #expect(text.contains("101->205,102->206") && text.contains("1/4") && text.contains("mismatched"))
        let row = find("shop.audit", in: buffer)!
        #expect(buffer[row.x, row.y].role == .error, "a table that did not match stands out")
        _ = c.handle(.character("x"), snapshot: snapshot, rate: 0)
        #expect(c.state.overlay == .none)
        #expect(HelpOverlay.groups(drills: false).contains { $0.1.contains { $0.0 == "T" } && $0.1.contains { $0.0 == "e" } })
    }

    /// `e` shows the whole event history, beyond the 500 events the panel keeps: it scrolls up to the
    /// first, and `/` searches it.
    @Test func theEventHistoryScrollsAndSearchesEveryEvent() {
        let monitor = RestoreMonitor(source: "s", clusterLocation: "c", storeCount: 3, replicas: 3, insecureTLS: false)
        for i in 1...1_200 { monitor.event(i % 100 == 0 ? .warn : .info, region: UInt64(i), "event number \(i)\(i % 100 == 0 ? " busy" : "")") }
        #expect(monitor.snapshot().events.count == 500, "the panel keeps the last 500")
        var c = ConsoleController()
        let snapshot = monitor.snapshot()
        _ = c.handle(.character("e"), snapshot: snapshot, rate: 0)
        #expect(c.state.overlay == .history)
        func screen() -> String {
            var view = DashboardView(snapshot: snapshot, state: c.state, order: DisplayOrder(), unicode: true)
            view.history = monitor.history(matching: c.state.historySearch, count: EventHistoryOverlay.visibleLines(height: 36), fromEnd: c.state.historyScroll)
            return view.render(width: 120, height: 36).lines.joined(separator: "\n")
        }
        #expect(screen().contains("1200 events") && screen().contains("event number 1200"))
        _ = c.handle(.home, snapshot: snapshot, rate: 0)
        c.state.historyScroll = min(c.state.historyScroll, 1_200 - EventHistoryOverlay.visibleLines(height: 36))
        #expect(screen().contains("[region 1] event number 1\n") || screen().contains("[region 1] event number 1 "), "the first event of all: \(screen())")
        _ = c.handle(.end, snapshot: snapshot, rate: 0)
        for key in ["/", "b", "u", "s", "y"] { _ = c.handle(key == "/" ? .character("/") : .character(Character(key)), snapshot: snapshot, rate: 0) }
        _ = c.handle(.enter, snapshot: snapshot, rate: 0)
        let found = screen()
        #expect(found.contains("12 events with 'busy'"), "\(found)")
        #expect(found.contains("event number 100 busy") && found.contains("event number 1200 busy") && !found.contains("event number 101"))
        _ = c.handle(.escape, snapshot: snapshot, rate: 0)
        #expect(c.state.overlay == .none)
    }

    /// Past 100,000 events the oldest tenth leaves memory, and the view says that the log file
    /// still has them.
    @Test func theEventHistorySaysWhatOnlyTheLogStillHolds() {
        let monitor = RestoreMonitor(source: "s", clusterLocation: "c", storeCount: 3, replicas: 3, insecureTLS: false)
        for i in 1...100_001 { monitor.event(.info, "event \(i)") }
        let window = monitor.history(matching: "", count: 10, fromEnd: 0)
        #expect(window.matches == 90_001 && window.dropped == 10_000)
        #expect(window.events.last?.message == "event 100001")
        var c = ConsoleController()
        c.state.overlay = .history
        var view = DashboardView(snapshot: monitor.snapshot(), state: c.state, order: DisplayOrder(), unicode: true)
        view.history = window
        #expect(view.render(width: 120, height: 36).lines.joined().contains("90001 events (10000 older ones in the log file only)"))
    }

    /// `v` shows every store, 20 of them, with figures the panel has no room for; any key closes it.
    @Test func theStoresViewShowsEveryStore() {
        let snapshot = snapshot(stores: 20)
        var c = ConsoleController()
        c.refreshOrder(snapshot)
        _ = c.handle(.character("v"), snapshot: snapshot, rate: 0)
        #expect(c.state.overlay == .stores)
        let text = render(snapshot, c.state, width: 160, height: 36).lines.joined(separator: "\n")
        for id in 1...20 where id != 3 && id != 5 { #expect(text.contains("s\(id)  up  leaders \(id)  downloads 2/4  ingests queued 1"), "s\(id)") }
        #expect(text.contains("s3  PANICKED: ingest failed on apply") && text.contains("s5  down"))
        #expect(text.contains("of 64.0 MiB/s  downloaded 1.0 GiB  SSTs 40 (2.0 GiB)"), "\(text)")
        // Where the full words do not fit, the panel's short ones do, and nothing is cut.
        let narrow = render(snapshot, c.state, width: 120, height: 36).lines.joined(separator: "\n")
        for id in 1...20 where id != 3 && id != 5 { #expect(narrow.contains("s\(id)  up  leaders \(id)  dl 2/4  ingest q 1"), "s\(id)") }
        #expect(narrow.contains("in 1.0 GiB  SSTs 40 (2.0 GiB)"), "\(narrow)")
        #expect(narrow.components(separatedBy: "in 1.0 GiB  SSTs 40 (2.0 GiB)").count - 1 == 18, "every store's line whole: \(narrow)")
        _ = c.handle(.character("x"), snapshot: snapshot, rate: 0)
        #expect(c.state.overlay == .none)
        #expect(HelpOverlay.groups(drills: false).contains { $0.1.contains { $0.0 == "v" } })
    }

    /// At 120 and 200 columns, with 7 and 20 stores: no store's figure is cut; what does not fit
    /// is counted in "+N more", and the impaired stores are among those shown.
    @Test(arguments: [(120, 7), (120, 20), (200, 7), (200, 20)])
    func everyStoreFigureFitsOrIsCounted(width: Int, stores: Int) throws {
        let snapshot = snapshot(stores: stores)
        let b = render(snapshot, width: width, height: 36)
        let rate = try #require(b.lines.first { $0.hasPrefix(" Rate") })
        let shown = snapshot.stores.filter { rate.contains(" s\($0.id) ") }
        for store in shown { #expect(rate.contains(ByteFormat.rate(store.bytesPerSecond)), "s\(store.id)'s rate is whole in: \(rate)") }
        let hidden = stores - shown.count
        if hidden > 0 { #expect(rate.contains("+\(hidden) more"), "\(rate)") }
        #expect(shown.contains { $0.id == 3 } && shown.contains { $0.id == 5 }, "impaired stores come first: \(rate)")
        if width >= 200 && stores == 7 { #expect(hidden == 0, "7 stores fit at 200 columns: \(rate)") }

        let panel = b.lines.filter { $0.hasPrefix("│s") || $0.hasPrefix("|s") }
        #expect(!panel.isEmpty)
        for line in panel {
            let cell = String(line.prefix(54))
            #expect(!cell.contains("…"), "a cut figure in the Stores panel: \(cell)")
            #expect(cell.contains("/s") || cell.contains("PANIC"), "\(cell)")
        }
        let more = b.lines.first { $0.contains("more stores") }
        #expect((panel.count == stores) == (more == nil), "either every store has its row, or the rest are counted")
    }
}

@Suite struct LargeTableTests {
    /// 20,000 regions: PgUp/PgDn move by a page, Home/End to the ends, the wheel by a row, and the
    /// selection stays on its region through a re-sort.
    @Test func twentyThousandRowsStayUsable() {
        var snapshot = sampleSnapshot(regions: 20_000)
        var c = ConsoleController()
        c.tableRows = DashboardView.tableRows(height: 36, stores: 3)
        c.refreshOrder(snapshot)
        _ = c.handle(.pageDown, snapshot: snapshot, rate: 0)
        #expect(c.state.selectedIndex == c.tableRows)
        _ = c.handle(.wheelDown, snapshot: snapshot, rate: 0)
        #expect(c.state.selectedIndex == c.tableRows + 1)
        _ = c.handle(.end, snapshot: snapshot, rate: 0)
        #expect(c.state.selectedIndex == 19_999 && c.state.scroll == 20_000 - c.tableRows)
        _ = c.handle(.pageUp, snapshot: snapshot, rate: 0)
        let picked = c.state.selectedRegion
        #expect(c.state.selectedIndex == 19_999 - c.tableRows)
        // The picked region fails: after the re-sort it is near the top, and still selected.
        let i = snapshot.regions.firstIndex { $0.id == picked }!
        snapshot.regions[i].phase = .failed
        c.refreshOrder(snapshot, now: .distantFuture)
        #expect(c.state.selectedRegion == picked)
        #expect(c.state.selectedIndex < 3_400, "among the failed, at the top")
        _ = c.handle(.home, snapshot: snapshot, rate: 0)
        #expect(c.state.selectedIndex == 0 && c.state.scroll == 0)
    }

    /// Five replicas at 120 columns: each peer cell names its store, whole.
    @Test func fiveReplicasFitAt120Columns() {
        var snapshot = sampleSnapshot(regions: 12)
        snapshot.replicas = 5
        for i in snapshot.regions.indices {
            snapshot.regions[i].peers = (1...5).map { PeerProgress(storeID: UInt64($0 + 2), phase: .downloading(percent: 100), isLeader: $0 == 5) }
        }
        let rows = render(snapshot, width: 120, height: 36).lines.filter { $0.contains("dl 100%") }
        #expect(rows.count == 12)
        for row in rows {
            for store in 3...7 { #expect(row.contains("s\(store)\(store == 7 ? "*" : "") dl 100%"), "s\(store) in \(row)") }
        }
    }
}
