import Synchronization

/// Group commit on a serial background queue (a store's Raft log and ingests, a restore's
/// checkpoint): the items that arrive while one batch is on
/// its way go together in the next, and each submitter hears back once its batch is done. A batch
/// takes up to `maxBatch` of the oldest items, never two that `conflict` (when given): an item that
/// conflicts with an earlier one waits for a later batch, and keeps its place.
public final class GroupCommit<Item: Sendable, Failure: Error>: Sendable {
    private struct Pending {
        var item: Item
        var done: CheckedContinuation<Failure?, Never>
    }

    private struct State {
        var pending: [Pending] = []
        var running = false
    }

    private let state = Mutex(State())
    private let background: BackgroundWork
    private let maxBatch: Int
    private let conflict: (@Sendable (Item, Item) -> Bool)?
    private let commit: @Sendable ([Item]) -> Failure?

    public init(label: String, maxBatch: Int = .max, conflict: (@Sendable (Item, Item) -> Bool)? = nil, commit: @escaping @Sendable ([Item]) -> Failure?) {
        background = BackgroundWork(label: label)
        self.maxBatch = maxBatch
        self.conflict = conflict
        self.commit = commit
    }

    /// Returns once `item`'s batch is committed: nil, or why not.
    public func submit(_ item: Item) async -> Failure? {
        await withCheckedContinuation { done in
            let start = state.withLock { s in
                s.pending.append(Pending(item: item, done: done))
                defer { s.running = true }
                return !s.running
            }
            if start { background.run { self.drain() } }
        }
    }

    private func drain() {
        while true {
            let batch = state.withLock { s -> [Pending] in
                let batch = takeBatch(from: &s.pending)
                if batch.isEmpty { s.running = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            // A closure, not `\.item`: a key path into a generic type is built anew at every call.
            let failure = commit(batch.map { $0.item })
            for item in batch { item.done.resume(returning: failure) }
        }
    }

    private func takeBatch(from pending: inout [Pending]) -> [Pending] {
        guard let conflict else {
            // Nothing conflicts: the oldest up to the bound, without comparing any two.
            defer { pending.removeFirst(min(maxBatch, pending.count)) }
            return Array(pending.prefix(maxBatch))
        }
        return Self.takeBatch(from: &pending, max: maxBatch) { conflict($0.item, $1.item) }
    }

    /// Up to `max` of the oldest of `pending`, each conflicting with none before it.
    static func takeBatch<Element>(from pending: inout [Element], max: Int, conflict: (Element, Element) -> Bool) -> [Element] {
        var batch: [Element] = []
        var rest: [Element] = []
        for element in pending {
            let clashes = { (earlier: Element) in conflict(earlier, element) }
            if batch.count < max, !batch.contains(where: clashes), !rest.contains(where: clashes) {
                batch.append(element)
            } else {
                rest.append(element)
            }
        }
        pending = rest
        return batch
    }

    /// Returns when no batch is on its way (before the DB closes).
    public func finish() { background.wait() }
}
