import KeyCodec

/// Limits how many tasks run a section at once, without blocking threads.
actor AsyncSemaphore {
    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { available = max(1, count) }

    func wait() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func signal() {
        if waiters.isEmpty { available += 1 } else { waiters.removeFirst().resume() }
    }

    var inUse: Int { waiters.count }

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async rethrows -> T {
        await wait()
        defer { signal() }
        return try await body()
    }
}

/// The regions still to process. Workers take items until the queue is empty and no worker holds
/// one, since a worker may add items (the regions a split produced).
actor WorkQueue<Item: Sendable> {
    private var items: [Item] = []
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
