import Dispatch
import RestoreDriver
import Synchronization

/// Keeps the console's display order from frame to frame, as the UI loop needs it. Sorting
/// 100,000 rows takes milliseconds: a new sort or filter applies at once, but the periodic
/// re-sort runs on another thread, so frames keep their pace. Use it from one thread.
public final class LiveOrdering {
    private var sorting = false
    private let background = Handoff<BackgroundOrder>()

    public init() {}

    /// Brings `controller`'s order up to date with `snapshot`, for the frame about to be drawn.
    public func update(_ controller: inout ConsoleController, with snapshot: RestoreSnapshot) {
        if controller.orderKeyChanged(snapshot) {
            controller.refreshOrder(snapshot)
            return
        }
        if let done = background.take() {
            // An answer for another sort, filter or set of rows is dropped; the next one follows.
            if done.sort == controller.state.sort, done.filter == controller.state.filter, done.order.rowsSeen <= snapshot.regions.count {
                controller.adoptOrder(done.order, waits: done.waits, for: snapshot)
            }
            sorting = false
        }
        controller.regroup(snapshot)
        guard !sorting, controller.orderIsStale() else { return }
        sorting = true
        let (regions, sort, filter, box) = (snapshot.regions, controller.state.sort, controller.state.filter, background)
        DispatchQueue.global(qos: .userInitiated).async {
            let order = DisplayOrder(sorted: RegionOrdering.order(regions, sort: sort, filter: filter), rows: regions, sort: sort, filter: filter)
            box.put(BackgroundOrder(order: order, waits: WaitSummary.entries(regions), sort: sort, filter: filter))
        }
    }

    /// A sort done on another thread, with the waits of the same rows, and what it was computed
    /// for. Its indices hold in a later snapshot with as many rows or more: the monitor only
    /// appends rows and changes them in place (`RegionRows`).
    struct BackgroundOrder: Sendable {
        var order: DisplayOrder
        var waits: [WaitSummary.Entry]
        var sort: ConsoleState.Sort
        var filter: String
    }
}

/// One value handed from a worker thread to the console's thread.
final class Handoff<Value: Sendable>: Sendable {
    private let slot = Mutex<Value?>(nil)

    func put(_ value: Value) { slot.withLock { $0 = value } }

    func take() -> Value? { slot.withLock { v in defer { v = nil }; return v } }
}

