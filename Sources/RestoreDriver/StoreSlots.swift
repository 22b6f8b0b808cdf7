import Synchronization

/// The download slots of each store, made when a store is first met: PD may list a store that
/// joined after the restore started, and its peers get their downloads like the others'.
final class StoreSlots: Sendable {
    private let width: Int
    private let slots = Mutex<[UInt64: AsyncSemaphore]>([:])

    init(width: Int) {
        self.width = width
    }

    subscript(store: UInt64) -> AsyncSemaphore {
        slots.withLock { slots in
            if let existing = slots[store] { return existing }
            let made = AsyncSemaphore(width)
            slots[store] = made
            return made
        }
    }
}
