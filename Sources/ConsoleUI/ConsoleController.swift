import Foundation
import KeyCodec
import ClusterAPI
import RestoreDriver

/// What a key asks of the engine or the program.
public enum ConsoleCommand: Equatable, Sendable {
    case pause(UInt64), resume(UInt64), pauseAll, resumeAll
    case retry(UInt64), retryFailed
    case setRate(UInt64)
    case storeDown(UInt64), allStoresUp
    case transferLeader(UInt64), split(UInt64), busy(UInt64)
    case quit
}

/// The console's logic without a terminal: it keeps the display order, moves the selection, and
/// turns keys into state changes and engine commands, as htop's key handlers return what to do next.
public struct ConsoleController {
    public var state = ConsoleState()
    public private(set) var order = DisplayOrder()
    private var orderedAt: Date = .distantPast
    private var orderedFor: (ConsoleState.Sort, String)?
    public var tableRows = 10

    public init(drills: Bool = false, theme: String = "default") {
        state.drills = drills
        state.themeName = theme
    }

    /// Re-sorts now when the sort or the filter changed, and otherwise at most twice a second.
    /// (The console sorts on a background thread instead; see `orderIsStale`.)
    public mutating func refreshOrder(_ snapshot: RestoreSnapshot, now: Date = Date()) {
        guard orderKeyChanged(snapshot) || orderIsStale(now: now) else { return }
        let sorted = RegionOrdering.order(snapshot.regions, sort: state.sort, filter: state.filter, now: now)
        adoptOrder(DisplayOrder(sorted: sorted, rows: snapshot.regions, sort: state.sort, filter: state.filter), for: snapshot, at: now)
    }

    /// True when the order no longer fits the sort, the filter or the rows (rows added since the
    /// sort join it without one; a snapshot with fewer rows is another restore's).
    public func orderKeyChanged(_ snapshot: RestoreSnapshot) -> Bool {
        guard let last = orderedFor else { return true }
        return last != (state.sort, state.filter) || snapshot.regions.count < order.rowsSeen
    }

    /// True when the order is over half a second old: phases and waiting times have moved on.
    public func orderIsStale(now: Date = Date()) -> Bool { now.timeIntervalSince(orderedAt) >= 0.5 }

    /// Between sorts, a row whose state changed moves to its group at once (stuck first only),
    /// so the top rows never show a region that was ingested since the sort; a row added since
    /// shows at the end of its group. Only the rows that changed are read (`DisplayOrder`).
    public mutating func regroup(_ snapshot: RestoreSnapshot) {
        guard order.update(with: snapshot.regions) else { return }
        keepSelection(snapshot)
        clampSelection(snapshot)
    }

    /// Takes the order of a sort of an earlier snapshot of the same rows (or of this one),
    /// brings it to `snapshot` and keeps the selection on the same region.
    /// `waits`: the rows' waits, when they were counted beside the order.
    public mutating func adoptOrder(_ newOrder: DisplayOrder, waits: [WaitSummary.Entry]? = nil, for snapshot: RestoreSnapshot, at now: Date = Date()) {
        order = newOrder
        order.update(with: snapshot.regions)
        state.waits = waits ?? WaitSummary.entries(snapshot.regions)
        orderedAt = now
        orderedFor = (state.sort, state.filter)
        keepSelection(snapshot)
        clampSelection(snapshot)
    }

    private mutating func clampSelection(_ snapshot: RestoreSnapshot) {
        state.selectedIndex = max(0, min(state.selectedIndex, order.count - 1))
        state.selectedRowIndex = order.isEmpty ? nil : order[state.selectedIndex]
        state.selectedRegion = state.selectedRowIndex.map { snapshot.regions[$0].id }
        if state.selectedIndex < state.scroll { state.scroll = state.selectedIndex }
        if state.selectedIndex >= state.scroll + tableRows { state.scroll = state.selectedIndex - tableRows + 1 }
        state.scroll = max(0, min(state.scroll, max(0, order.count - tableRows)))
    }

    private mutating func move(to index: Int, _ snapshot: RestoreSnapshot) {
        state.selectedIndex = index
        state.selectionPinned = true
        clampSelection(snapshot)
    }

    /// Once the operator has moved the selection, it stays on its region through re-sorts; until
    /// then it stays on top, so the top rows keep showing what needs the operator.
    private mutating func keepSelection(_ snapshot: RestoreSnapshot) {
        guard state.selectionPinned, let row = state.selectedRowIndex, row < snapshot.regions.count, snapshot.regions[row].id == state.selectedRegion,
              let position = order.position(ofRow: row) else { return }
        state.selectedIndex = position
    }

    var selectedRow: (RestoreSnapshot) -> RegionRow? {
        { s in self.state.selectedRegion.flatMap { s.regions.row($0, at: self.state.selectedRowIndex) } }
    }

    /// The event history's keys: scroll, search, close.
    private mutating func handleHistory(_ key: KeyEvent) {
        let page = 20
        if state.historyEditing {
            switch key {
            case .enter: state.historyEditing = false
            case .escape:
                state.historySearch = ""
                state.historyEditing = false
            case .backspace: if !state.historySearch.isEmpty { state.historySearch.removeLast() }
            case let .character(c): state.historySearch.append(c)
            default: break
            }
            state.historyScroll = 0
            return
        }
        switch key {
        case .up, .character("k"), .wheelUp: state.historyScroll += 1
        case .down, .character("j"), .wheelDown: state.historyScroll = max(0, state.historyScroll - 1)
        case .pageUp: state.historyScroll += page
        case .pageDown: state.historyScroll = max(0, state.historyScroll - page)
        case .home, .character("g"): state.historyScroll = Int.max / 2
        case .end, .character("G"): state.historyScroll = 0
        case .character("/"): state.historyEditing = true
        case .escape, .character("q"), .character("e"): state.overlay = .none
        default: break
        }
    }

    /// Handles one key; returns the commands for the engine. `rate` is the current limit per store.
    public mutating func handle(_ key: KeyEvent, snapshot: RestoreSnapshot, rate: UInt64, tableTop: Int = DashboardView.tableTop + 2) -> [ConsoleCommand] {
        state.message = nil
        switch state.overlay {
        case .help, .stores, .tables:
            state.overlay = .none
            return []
        case .history:
            handleHistory(key)
            return []
        case .confirmQuit:
            if key == .character("y") || key == .character("Y") || key == .character("q") {
                state.quitting = true
                return [.quit]
            }
            state.overlay = .none
            return []
        case .filterInput:
            switch key {
            case .enter: state.overlay = .none
            case .escape:
                state.filter = ""
                state.overlay = .none
            case .backspace: if !state.filter.isEmpty { state.filter.removeLast() }
            case let .character(c): state.filter.append(c)
            default: break
            }
            refreshOrder(snapshot, now: .distantFuture)
            return []
        case .detail:
            if key == .escape || key == .enter || key == .character("q") { state.overlay = .none }
            return []
        case .none:
            break
        }
        let selected = selectedRow(snapshot)
        switch key {
        case .up, .character("k"), .wheelUp: move(to: state.selectedIndex - 1, snapshot)
        case .down, .character("j"), .wheelDown: move(to: state.selectedIndex + 1, snapshot)
        case .pageUp: move(to: state.selectedIndex - tableRows, snapshot)
        case .pageDown: move(to: state.selectedIndex + tableRows, snapshot)
        case .home, .character("g"): move(to: 0, snapshot)
        case .end, .character("G"): move(to: order.count - 1, snapshot)
        case let .mouseClick(_, y):
            let index = state.scroll + (y - tableTop)
            if y >= tableTop, index < order.count { move(to: index, snapshot) }
        case .enter:
            if let row = selected { state.overlay = .detail(regionID: row.id) }
        case .escape:
            state.filter = ""
            refreshOrder(snapshot, now: .distantFuture)
        case .character("?"): state.overlay = .help
        case .character("v"): state.overlay = .stores
        case .character("T"): state.overlay = .tables
        case .character("e"):
            state.overlay = .history
            state.historyScroll = 0
        case .character("/"): state.overlay = .filterInput
        case .character("w"):
            state.filter = WaitSummary.nextFilter(after: state.filter, in: state.waits)
            state.message = state.waits.isEmpty ? "no region waits" : state.filter.isEmpty ? "filter cleared" : "filter \(state.filter)"
            refreshOrder(snapshot, now: .distantFuture)
        case .character("s"):
            let all = ConsoleState.Sort.allCases
            state.sort = all[(all.firstIndex(of: state.sort)! + 1) % all.count]
            refreshOrder(snapshot, now: .distantFuture)
        case .character("t"):
            let names = Theme.cycle
            state.themeName = names[((names.firstIndex(of: state.themeName) ?? -1) + 1) % names.count]
            state.message = "theme \(state.themeName)"
        case .character("q"):
            if state.finished {
                state.quitting = true
                return [.quit]
            }
            state.overlay = .confirmQuit
        case .character("p"):
            guard let row = selected else { return [] }
            state.message = row.phase == .paused ? "resuming region \(row.id)" : "pausing region \(row.id) at its next step"
            return [row.phase == .paused ? .resume(row.id) : .pause(row.id)]
        case .character("P"):
            let anyPaused = (snapshot.counts[.paused] ?? 0) > 0
            state.message = anyPaused ? "resuming every region" : "pausing every region at its next step"
            return [anyPaused ? .resumeAll : .pauseAll]
        case .character("r"):
            guard let row = selected else { return [] }
            guard row.phase == .failed else {
                state.message = "region \(row.id) has not failed; r retries failed regions"
                return []
            }
            return [.retry(row.id)]
        case .character("R"): return [.retryFailed]
        case .character("+"), .character("="):
            let next: UInt64 = rate == 0 ? 0 : min(rate * 2, 1 << 40)
            state.message = next == 0 ? "rate unlimited" : "rate limit \(ByteFormat.rate(Double(next))) per store"
            return [.setRate(next)]
        case .character("-"):
            let next: UInt64 = rate == 0 ? 64 << 20 : max(rate / 2, 64 << 10)
            state.message = "rate limit \(ByteFormat.rate(Double(next))) per store"
            return [.setRate(next)]
        case .character("d") where state.drills:
            guard let store = selected?.leaderStore else { return [] }
            return [.storeDown(store)]
        case .character("u") where state.drills: return [.allStoresUp]
        case .character("L") where state.drills: return selected.map { [.transferLeader($0.id)] } ?? []
        case .character("S") where state.drills: return selected.map { [.split($0.id)] } ?? []
        case .character("B") where state.drills: return selected?.leaderStore.map { [.busy($0)] } ?? []
        default: break
        }
        return []
    }
}
