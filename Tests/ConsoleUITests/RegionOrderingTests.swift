import Foundation
import Testing
@testable import ConsoleUI
@testable import KeyCodec
@testable import ClusterAPI
@testable import RestoreDriver

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
        c.adoptOrder(DisplayOrder(sorted: order, rows: old.regions, sort: .stuckFirst, filter: ""), waits: WaitSummary.entries(old.regions), for: later)
        // The sort's order, with the rows that changed since in their group now, in sort order.
        let urgency = Dictionary(uniqueKeysWithValues: later.regions.map { ($0.id, RegionOrdering.urgency($0)) })
        let regrouped = ids.enumerated().sorted { (urgency[$0.element]!, $0.offset) < (urgency[$1.element]!, $1.offset) }.map(\.element)
        #expect(regrouped != ids)
        #expect(c.order.map { later.regions[$0].id } == regrouped)
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

@Suite struct DisplayOrderTests {
    /// What the order must show: the sort's rows, then the rows added since that the filter
    /// takes, each in its group as it stands now (stuck first), in that order within a group.
    static func expected(sorted: [Int], rowsAtSort: Int, rows: RegionRows, sort: ConsoleState.Sort, filter: String) -> [Int] {
        let terms = RegionOrdering.terms(filter)
        let added = (rowsAtSort..<rows.count).filter { r in terms.allSatisfy { RegionOrdering.matches(rows[r], $0) } }
        let group = { (r: Int) in sort == .stuckFirst ? RegionOrdering.urgency(rows[r]) : 0 }
        return (sorted + added).enumerated().sorted { (group($0.element), $0.offset) < (group($1.element), $1.offset) }.map(\.element)
    }

    /// Random changes of phase and wait, rows added, and once more changes than the journal
    /// keeps: after each round the order reads as a full regroup of every row would, and each
    /// row's position is the inverse of it.
    @Test(arguments: [(ConsoleState.Sort.stuckFirst, ""), (.stuckFirst, "state:r"), (.id, "")])
    func followsEveryChangeAsAFullRegroupWould(sort: ConsoleState.Sort, filter: String) {
        var generator = SystemRandomNumberGenerator()
        var rows = sampleSnapshot(regions: 700).regions
        let sorted = RegionOrdering.order(rows, sort: sort, filter: filter)
        var order = DisplayOrder(sorted: sorted, rows: rows, sort: sort, filter: filter)
        let initial = Array(order), rowsAtSort = rows.count
        #expect(initial == Self.expected(sorted: sorted, rowsAtSort: rowsAtSort, rows: rows, sort: sort, filter: filter))
        let template = rows[0]
        for round in 0..<60 {
            let changes = round == 30 ? RowChanges.window + 100 : Int.random(in: 0...40, using: &generator)
            for _ in 0..<changes {
                let i = Int.random(in: 0..<rows.count, using: &generator)
                if Bool.random(using: &generator) {
                    rows[i].phase = RegionPhase.allCases.randomElement(using: &generator)!
                } else {
                    rows[i].waitingFor = rows[i].waitingFor == nil ? .noLeader(retryIn: .seconds(1)) : nil
                }
            }
            for _ in 0..<Int.random(in: 0...3, using: &generator) {
                var row = template
                row.id = UInt64(100_000 + rows.count)
                row.phase = RegionPhase.allCases.randomElement(using: &generator)!
                rows.append(row)
            }
            order.update(with: rows)
            let shown = Array(order)
            #expect(shown == Self.expected(sorted: initial, rowsAtSort: rowsAtSort, rows: rows, sort: sort, filter: filter), "round \(round)")
            var positions = [Int?](repeating: nil, count: rows.count)
            for (p, r) in shown.enumerated() { positions[r] = p }
            #expect((0..<rows.count).map { order.position(ofRow: $0) } == positions, "round \(round)")
        }
    }

    /// The journal keeps a bounded window: a reader that fell behind it is told so.
    @Test func theJournalSaysWhenItNoLongerReachesBack() {
        var rows = sampleSnapshot(regions: 10).regions
        let start = rows.stateChanges.revision
        rows[3].attempts += 1
        #expect(rows.stateChanges.since(start)?.isEmpty == true, "a change of neither phase nor wait is not recorded")
        rows[3].phase = .failed
        rows[4].waitingFor = .noLeader(retryIn: .seconds(1))
        #expect(rows.stateChanges.since(start).map(Array.init) == [3, 4])
        for _ in 0..<RowChanges.window { rows[5].phase = rows[5].phase == .failed ? .queued : .failed }
        #expect(rows.stateChanges.since(start) == nil)
        #expect(rows.stateChanges.since(rows.stateChanges.revision - 1).map(Array.init) == [5])
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
