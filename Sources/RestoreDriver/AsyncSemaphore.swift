import DequeModule
import KeyCodec

/// Limits how many tasks run a section at once, without blocking threads.
actor AsyncSemaphore {
    private var available: Int
    /// Waiting tasks in order; each is resumed with true when it gets the slot, false when it was
    /// cancelled first.
    private var waiters: [(id: UInt64, continuation: CheckedContinuation<Bool, Never>)] = []
    private var nextWaiter: UInt64 = 0

    init(_ count: Int) { available = max(1, count) }

    func wait() async {
        while !(await acquire()) {}
    }

    /// Takes a slot; false when the task is cancelled before one comes (then it holds none).
    func acquire() async -> Bool {
        if available > 0 {
            available -= 1
            return true
        }
        guard !Task.isCancelled else { return false }
        let id = nextWaiter
        nextWaiter += 1
        // The cancellation's hop to the actor runs after this call has queued its waiter.
        return await withTaskCancellationHandler {
            await withCheckedContinuation { waiters.append((id, $0)) }
        } onCancel: {
            Task { await self.dropWaiter(id) }
        }
    }

    private func dropWaiter(_ id: UInt64) {
        guard let i = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: i).continuation.resume(returning: false)
    }

    func signal() {
        if waiters.isEmpty { available += 1 } else { waiters.removeFirst().continuation.resume(returning: true) }
    }

    var inUse: Int { waiters.count }

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async rethrows -> T {
        await wait()
        defer { signal() }
        return try await body()
    }
}

/// The regions still to process. Workers take items until the queue is empty and no worker holds
/// one, since a worker may add items (the regions a split produced). A deque: an array's
/// `removeFirst` moved every region still queued, tens of thousands, for each one taken.
actor WorkQueue<Item: Sendable> {
    private var items: Deque<Item> = []
    private var inFlight = 0
    private var waiters: [CheckedContinuation<Item?, Never>] = []

    func push(_ item: Item) {
        if !waiters.isEmpty {
            inFlight += 1
            waiters.removeFirst().resume(returning: item)
        } else {
            items.append(item)
        }
    }

    func next() async -> Item? {
        if !items.isEmpty {
            inFlight += 1
            return items.removeFirst()
        }
        if inFlight == 0 { return nil }
        return await withCheckedContinuation { waiters.append($0) }
    }

    func finished() {
        inFlight -= 1
        if inFlight == 0, items.isEmpty {
            for w in waiters { w.resume(returning: nil) }
            waiters.removeAll()
        }
    }
}
