import Foundation
import Testing
@testable import ConsoleUI
@testable import KeyCodec
@testable import ClusterAPI
@testable import EmbeddedCluster
@testable import RestoreDriver

/// A snapshot with one region in each interesting state.
func sampleSnapshot(regions count: Int = 6) -> RestoreSnapshot {
    let now = Date()
    func key(_ table: Int64, _ handle: Int64) -> [UInt8] { Memcomparable.encode(TableCodec.recordKey(tableID: table, handle: handle)) }
    let phases: [(RegionPhase, [PeerPhase], String?)] = [
        (.ingested, [.ingested, .ingested, .ingested], nil),
        (.downloading, [.downloading(percent: 73), .downloading(percent: 41), .ready], nil),
        (.retrying, [.retrying("ServerIsBusy"), .ready, .ready], "ServerIsBusy on store 1, retry in 2.1 s"),
        (.paused, [.paused, .paused, .paused], nil),
        (.failed, [.failed("sha256"), .ready, .ready], "store 1: sha256 mismatch"),
        (.queued, [.queued, .queued, .queued], nil),
    ]
    var rows: [RegionRow] = []
    var counts: [RegionPhase: Int] = [:]
    for i in 0..<count {
        let (phase, peers, error) = phases[i % phases.count]
        rows.append(RegionRow(
            id: UInt64(1093 + i * 4), startKey: key(143, Int64(i * 4000)), endKey: key(143, Int64(i * 4000 + 4000)),
            epoch: RegionEpoch(confVer: 3, version: 5), leaderStore: UInt64(i % 3 + 1),
            peers: peers.enumerated().map { PeerProgress(storeID: UInt64($0.offset + 1), phase: $0.element, isLeader: $0.offset == i % 3) },
            phase: phase, attempts: phase == .failed ? 8 : 1, lastError: error, waitingFor: phase == .retrying ? .serverIsBusy(store: 1, retryIn: .milliseconds(2100)) : nil,
            since: now.addingTimeInterval(-3), fileSetsDone: 0, fileSetsTotal: 1, bytes: 0,
            history: [AttemptRecord(storeID: 1, step: .download, fileSet: 0, started: now, duration: .milliseconds(1500), bytes: 1 << 20, error: error)]))
        counts[phase, default: 0] += 1
    }
    let stores = (1...3).map { id in
        StoreRow(id: UInt64(id), state: id == 3 ? .panicked(reason: "ingest failed on apply") : .up, leaders: 2, downloadsInFlight: 3, downloadSlots: 4, ingestsQueued: 1,
                 bytesPerSecond: 60 * 1_048_576, rateLimit: 64 << 20, bytesDownloaded: 1 << 30, bytesIngested: 0, history: [1, 2, 3, 4, 5, 6, 7, 8].map { Double($0) * 8e6 })
    }
    return RestoreSnapshot(
        source: "s3://prod-bk/2026-11-25 (http://127.0.0.1:9000)", clusterLocation: "cluster ./data", storeCount: 3, replicas: 3,
        phase: .restoring, phaseStarted: [.splitting: now.addingTimeInterval(-76), .restoring: now.addingTimeInterval(-72)],
        phaseEnded: [.splitting: now.addingTimeInterval(-72)], regions: RegionRows(rows), stores: stores, counts: counts,
        totalBytes: 2 << 30, doneBytes: 1 << 30, totalKVs: 6_400_000, doneKVs: 4_100_000, bytesPerSecond: 182 * 1_048_576,
        retries: ["ServerIsBusy": 3], events: [RestoreEvent(time: now, level: .warn, regionID: 1101, storeID: nil, message: "NotLeader: leader is now s1, retrying")],
        eventCount: 1, startedAt: now.addingTimeInterval(-80), insecureTLS: false, checksum: nil)
}

func render(_ snapshot: RestoreSnapshot, _ state: ConsoleState = ConsoleState(), width: Int = 120, height: Int = 36) -> ScreenBuffer {
    let order = RegionOrdering.order(snapshot.regions, sort: state.sort, filter: state.filter)
    return DashboardView(snapshot: snapshot, state: state, order: order, unicode: true).render(width: width, height: height)
}

/// The first position of `text` on screen, or nil.
func find(_ text: String, in buffer: ScreenBuffer) -> (x: Int, y: Int)? {
    for y in 0..<buffer.height {
        let line = buffer.line(y)
        if let r = line.range(of: text) { return (line.distance(from: line.startIndex, to: r.lowerBound), y) }
    }
    return nil
}

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
        let b = DashboardView(snapshot: sampleSnapshot(), state: ConsoleState(), order: order, unicode: false).render(width: 120, height: 36)
        let text = b.lines.joined()
        #expect(!text.contains("┌") && !text.contains("▁") && text.contains("+-"))
    }

    @Test func renderingOnlyTouchesVisibleRows() {
        // 100,000 regions render in the same shape as 6: only the rows on screen are drawn.
        let big = sampleSnapshot(regions: 100_000)
        var state = ConsoleState()
        state.scroll = 50_000
        let order = RegionOrdering.order(big.regions, sort: state.sort, filter: state.filter)
        let view = DashboardView(snapshot: big, state: state, order: order, unicode: true)
        var b = ScreenBuffer(width: 120, height: 30)
        let table = Rect(x: 0, y: 0, width: 120, height: 30)
        let drawn = view.drawRegionTable(&b, table)
        #expect(drawn == table.height - 3, "the rows between the border and header lines, and no more")
        // The rows on screen are exactly the ones at the scroll position, in order.
        let ids = (2..<(2 + drawn)).map { b.line($0).dropFirst().prefix(7).trimmingCharacters(in: .whitespaces) }
        #expect(ids == order[50_000..<(50_000 + drawn)].map { "\(big.regions[$0].id)" })
    }
}

@Suite struct ControllerTests {
    @Test func keysBecomeCommands() {
        let snapshot = sampleSnapshot()
        var c = ConsoleController()
        c.refreshOrder(snapshot)
        let first = snapshot.regions[c.order[0]]
        #expect(first.phase == .failed)
        #expect(c.handle(.character("r"), snapshot: snapshot, rate: 0) == [.retry(first.id)])
        #expect(c.handle(.character("R"), snapshot: snapshot, rate: 0) == [.retryFailed])
        #expect(c.handle(.character("p"), snapshot: snapshot, rate: 0) == [.pause(first.id)])
        #expect(c.handle(.character("P"), snapshot: snapshot, rate: 0) == [.resumeAll], "a region is paused, so P resumes")
        #expect(c.handle(.character("+"), snapshot: snapshot, rate: 8 << 20) == [.setRate(16 << 20)])
        #expect(c.handle(.character("-"), snapshot: snapshot, rate: 8 << 20) == [.setRate(4 << 20)])
        #expect(c.handle(.character("-"), snapshot: snapshot, rate: 0) == [.setRate(64 << 20)])
        _ = c.handle(.down, snapshot: snapshot, rate: 0)
        #expect(c.state.selectedRegion == snapshot.regions[c.order[1]].id)
        #expect(c.handle(.character("r"), snapshot: snapshot, rate: 0).isEmpty, "only failed regions retry")
        #expect(c.handle(.character("d"), snapshot: snapshot, rate: 0).isEmpty, "drills are off")
    }

    @Test func quittingAsksFirst() {
        let snapshot = sampleSnapshot()
        var c = ConsoleController()
        #expect(c.handle(.character("q"), snapshot: snapshot, rate: 0).isEmpty)
        #expect(c.state.overlay == .confirmQuit)
        #expect(c.handle(.character("n"), snapshot: snapshot, rate: 0).isEmpty)
        #expect(c.state.overlay == .none && !c.state.quitting)
        _ = c.handle(.character("q"), snapshot: snapshot, rate: 0)
        #expect(c.handle(.character("y"), snapshot: snapshot, rate: 0) == [.quit])
    }

    @Test func filterAndSort() {
        let snapshot = sampleSnapshot(regions: 12)
        var c = ConsoleController()
        c.refreshOrder(snapshot)
        _ = c.handle(.character("/"), snapshot: snapshot, rate: 0)
        for ch in "state:failed" { _ = c.handle(.character(ch), snapshot: snapshot, rate: 0) }
        _ = c.handle(.enter, snapshot: snapshot, rate: 0)
        #expect(c.order.count == 2 && c.order.allSatisfy { snapshot.regions[$0].phase == .failed })
        _ = c.handle(.escape, snapshot: snapshot, rate: 0)
        #expect(c.order.count == 12)
        _ = c.handle(.character("s"), snapshot: snapshot, rate: 0)
        #expect(c.state.sort == .id)
        #expect(c.order.map { snapshot.regions[$0].id } == snapshot.regions.map(\.id).sorted())
        #expect(RegionOrdering.order(snapshot.regions, sort: .id, filter: "sha256").count == 2)
        #expect(RegionOrdering.order(snapshot.regions, sort: .id, filter: "table:143").count == 12)
        #expect(RegionOrdering.order(snapshot.regions, sort: .id, filter: "table:999").isEmpty)
    }
}

@Suite struct ThemeTests {
    let themes = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Themes").path

    @Test func everyShippedThemeParses() throws {
        for name in Theme.cycle {
            let theme = try Theme.load(name, directories: [themes])
            #expect(theme.name == name)
        }
    }

    @Test func missingRolesFallBackOneByOne() throws {
        let theme = try Theme.parse("name = \"x\"\nerror = { fg = \"#00ff00\" }\n", source: "x.toml")
        #expect(theme[.error].fg == .rgb(0, 255, 0))
        #expect(theme[.ok] == Theme.fallback[.ok])
        let mono = try Theme.load("mono", directories: [themes])
        #expect(mono[.ok].fg == .terminalDefault)
    }

    @Test func badThemesAreClearErrors() {
        #expect(throws: ThemeError.unknownRole(source: "t", role: "sparkles")) { try Theme.parse("sparkles = { fg = \"red\" }", source: "t") }
        #expect { try Theme.parse("ok = { fg = \"mauve-ish\" }", source: "t") } throws: { "\($0)".contains("#rrggbb") }
        #expect { try Theme.parse("ok = [", source: "t") } throws: { $0 is ThemeError }
        #expect { try Theme.load("nope", directories: [themes]) } throws: { "\($0)".contains("not found") }
    }

    @Test func colourDepthDegrades() {
        #expect(ColorDepth.detect(environment: ["NO_COLOR": "1"], terminalColors: 256, canChangeColor: true) == .monochrome)
        #expect(ColorDepth.detect(environment: [:], terminalColors: 0, canChangeColor: false) == .monochrome)
        #expect(ColorDepth.detect(environment: [:], terminalColors: 8, canChangeColor: false) == .eight)
        #expect(ColorDepth.detect(environment: [:], terminalColors: 256, canChangeColor: false) == .palette256)
        #expect(ColorDepth.detect(environment: ["COLORTERM": "truecolor"], terminalColors: 256, canChangeColor: true) == .truecolor)
        #expect(ColorDepth.palette256.index(of: .rgb(255, 0, 0)) == 196)
        #expect(ColorDepth.palette256.index(of: .rgb(128, 128, 128)) == 244)
        #expect(ColorDepth.eight.index(of: .rgb(255, 0, 0)) == 1)
        #expect(ColorDepth.eight.index(of: .palette(9)) == 1)
        #expect(ColorDepth.palette256.index(of: .terminalDefault) == -1)
    }
}

@Suite struct DisplayWidthTests {
    /// (text, terminal columns)
    @Test(arguments: [
        ("orders", 6), ("订单表", 6), ("ｔａｂｌｅ", 10), ("한국어", 6), ("e\u{301}", 1), ("📦", 2), ("", 0),
    ] as [(String, Int)])
    func textIsMeasuredInColumns(text: String, columns: Int) {
        #expect(DisplayWidth.columns(text) == columns)
    }

    @Test func aColumnWithACJKTableNameStaysAligned() {
        var b = ScreenBuffer(width: 40, height: 3)
        for (y, name) in ["orders", "订单表", "订单明细表_2026_十二月"].enumerated() {
            b.write(fit(name, 12) + "|" + fit("42", 4, right: true), x: 0, y: y)
        }
        // The separator is in column 12 on every line, whatever the names' widths.
        for y in 0..<3 { #expect(b[12, y].character == "|", "line \(y): \(b.line(y))") }
        #expect(DisplayWidth.columns(fit("订单明细表_2026_十二月", 12)) == 12)
        #expect(fit("订单明细表_2026_十二月", 12).hasSuffix("…"))
    }
}

@Suite struct OrderingTests {
    /// "Stuck first" puts what needs the operator on top, in the order the operator acts on it:
    /// failed, retrying, paused, waiting on a store, moving, queued, and ingested last, with
    /// 60 regions, more than the table shows.
    @Test func stuckFirstFollowsTheState() {
        var snapshot = sampleSnapshot(regions: 60)
        // One moving region waits on a busy store: it comes before the others that move.
        if let i = snapshot.regions.lastIndex(where: { $0.phase == .downloading }) {
            snapshot.regions[i].waitingFor = .serverIsBusy(store: 2, retryIn: .seconds(1))
        }
        let order = RegionOrdering.order(snapshot.regions, sort: .stuckFirst, filter: "")
        let phases = order.map { snapshot.regions[$0].phase }
        let expected: [RegionPhase] = Array(repeating: .failed, count: 10) + Array(repeating: .retrying, count: 10) + Array(repeating: .paused, count: 10)
            + Array(repeating: .downloading, count: 10) + Array(repeating: .queued, count: 10) + Array(repeating: .ingested, count: 10)
        #expect(phases == expected)
        #expect(snapshot.regions[order[30]].waitingFor != nil, "the waiting one leads the moving ones")
        let rows = render(snapshot).lines.filter { $0.contains("t143_r") }
        #expect(rows.count > 10)
        #expect(rows.allSatisfy { !$0.contains(" ok ") }, "no ingested row on screen while others are still to do:\n\(rows.joined(separator: "\n"))")
    }

    /// A sort computed on another thread from an older snapshot applies by index to a newer one
    /// with as many rows: the monitor changes rows in place and only appends, so an index names
    /// the same region in both; the waits counted beside it come along.
    @Test func aBackgroundOrderAppliesByIndexToALaterSnapshot() {
        let monitor = RestoreMonitor(source: "s", clusterLocation: "c", storeCount: 3, replicas: 3, insecureTLS: false)
        for row in sampleSnapshot(regions: 600).regions { monitor.setRow(row) }
        let old = monitor.snapshot()
        let order = RegionOrdering.order(old.regions, sort: .stuckFirst, filter: "")
        let ids = order.map { old.regions[$0].id }
        for row in old.regions where row.phase == .ingested {
            var changed = row
            changed.phase = .retrying
            monitor.setRow(changed)
        }
        let later = monitor.snapshot()
        #expect(later.regions.count == old.regions.count)
        var c = ConsoleController()
        c.refreshOrder(later)
        c.adoptOrder(order, waits: WaitSummary.entries(old.regions), for: later)
        #expect(c.order.map { later.regions[$0].id } == ids)
        #expect(old.regions.contains { $0.phase == .ingested }, "the older snapshot kept its rows")
        #expect(!later.regions.contains { $0.phase == .ingested })
    }
}

@Suite struct RegionRowsTests {
    /// Rows across several chunks read and change as an array's do, and a copy keeps its rows
    /// when the original changes (a snapshot beside the monitor).
    @Test func rowsInChunksBehaveAsAnArray() {
        let source = Array(sampleSnapshot(regions: 1_000).regions)
        var rows = RegionRows(source)
        #expect(rows.count == 1_000 && Array(rows).map(\.id) == source.map(\.id))
        let copy = rows
        rows[700].phase = .failed
        rows[3].attempts = 99
        rows.append(source[0])
        #expect(rows[700].phase == .failed && rows[3].attempts == 99 && rows.count == 1_001 && rows.last?.id == source[0].id)
        #expect(copy[700].phase == source[700].phase && copy[3].attempts == source[3].attempts && copy.count == 1_000)
        #expect(RegionRows().isEmpty && RegionRows([]).count == 0)
    }
}

@Suite struct WaitSummaryTests {
    /// 60 regions: 10 retrying on a busy store 1, 10 paused, and 2 more waits set here. The line
    /// above the table sums them up by reason, and `w` filters the table to each in turn.
    @Test func theWaitsAreSummedUpAndWFiltersByEach() throws {
        var snapshot = sampleSnapshot(regions: 60)
        let queued = snapshot.regions.indices.filter { snapshot.regions[$0].phase == .queued }
        snapshot.regions[queued[0]].waitingFor = .noLeader(retryIn: .seconds(1))
        snapshot.regions[queued[1]].waitingFor = .retry(step: .download, label: "ChecksumMismatch", attempt: 2, attempts: 8, retryIn: .seconds(1))
        var c = ConsoleController()
        c.refreshOrder(snapshot)
        #expect(WaitSummary.text(c.state.waits) == "waiting: 10 busy (s1), 10 paused, 1 download-retry, 1 no-leader")
        let screen = render(snapshot, c.state).lines.joined(separator: "\n")
        #expect(screen.contains(" Waits  10 busy (s1), 10 paused, 1 download-retry, 1 no-leader"), "\(screen)")

        var seen: [String] = []
        for _ in 0..<5 {
            _ = c.handle(.character("w"), snapshot: snapshot, rate: 0)
            seen.append(c.state.filter)
            let shown = c.order.map { snapshot.regions[$0] }
            if let reason = c.state.filter.split(separator: ":").last, !c.state.filter.isEmpty {
                #expect(!shown.isEmpty && shown.allSatisfy { WaitSummary.reason($0) == String(reason) }, "\(c.state.filter)")
            } else {
                #expect(shown.count == 60)
            }
        }
        #expect(seen == ["wait:busy", "wait:paused", "wait:download-retry", "wait:no-leader", ""])
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
            var view = DashboardView(snapshot: snapshot, state: c.state, order: [], unicode: true)
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
        var view = DashboardView(snapshot: monitor.snapshot(), state: c.state, order: [], unicode: true)
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

@Suite struct RegroupTests {
    /// Between sorts, a region that was ingested since leaves the top at once.
    @Test func aRowThatChangedStateMovesToItsGroupAtOnce() {
        var snapshot = sampleSnapshot(regions: 60)
        var c = ConsoleController()
        c.refreshOrder(snapshot)
        _ = c.handle(.down, snapshot: snapshot, rate: 0)
        _ = c.handle(.up, snapshot: snapshot, rate: 0)  // the operator picked the top row
        let top = snapshot.regions[c.order[0]].id
        #expect(snapshot.regions[c.order[0]].phase == .failed)
        for i in snapshot.regions.indices where snapshot.regions[i].phase == .failed { snapshot.regions[i].phase = .ingested }
        c.regroup(snapshot)
        #expect(snapshot.regions[c.order[0]].phase == .retrying)
        #expect(snapshot.regions[c.order[c.order.count - 1]].phase == .ingested)
        #expect(c.order.count == 60)
        #expect(snapshot.regions[c.order[c.state.selectedIndex]].id == top, "the selection stays on its region")

        // Untouched, the selection stays on top instead.
        var fresh = ConsoleController()
        fresh.refreshOrder(snapshot)
        for i in snapshot.regions.indices where snapshot.regions[i].phase == .retrying { snapshot.regions[i].phase = .ingested }
        fresh.regroup(snapshot)
        #expect(fresh.state.selectedIndex == 0 && fresh.state.scroll == 0)
        #expect(snapshot.regions[fresh.order[0]].phase == .paused)
    }
}

@Suite struct SortTests {
    /// More regions than rows, in every phase: the first rows of each sort.
    @Test func theFirstRowsOfEachSort() {
        var snapshot = sampleSnapshot(regions: 60)
        for i in snapshot.regions.indices { snapshot.regions[i].attempts = (i * 7) % 11 }
        let rows = DashboardView.tableRows(height: 36, stores: 3)
        #expect(snapshot.regions.count > rows)
        func first(_ sort: ConsoleState.Sort) -> [RegionRow] {
            var state = ConsoleState()
            state.sort = sort
            var c = ConsoleController()
            c.state = state
            c.refreshOrder(snapshot)
            return c.order.prefix(rows).map { snapshot.regions[$0] }
        }
        #expect(first(.id).map(\.id) == snapshot.regions.map(\.id).sorted().prefix(rows).map { $0 })
        #expect(first(.range).map(\.startKey) == snapshot.regions.map(\.startKey).sorted(by: keyLess).prefix(rows).map { $0 })
        let attempts = first(.attempts).map(\.attempts)
        #expect(attempts == attempts.sorted(by: >) && attempts.first == 10)
        #expect(first(.stuckFirst).prefix(10).allSatisfy { $0.phase == .failed })
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
