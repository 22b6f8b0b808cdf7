import Dispatch
import KeyCodec

/// SHA-256 of a stream, computed on a background queue while the caller goes on receiving and
/// writing: hashing costs about as much CPU as the transfer itself, and on its own thread it
/// overlaps with the network and the disk instead of adding to them. Bytes are copied into a small
/// ring of slots, so a slow hash holds the writer back rather than growing memory.
final class PipelinedDigest {
    private static let maximumSlotSize = 1 << 20
    private static let slotCount = 4
    /// A small file needs no slot bigger than itself: thousands of small downloads in flight
    /// must not each hold 4 MiB.
    private let slotSize: Int

    private let state: HashingState
    private let queue = DispatchQueue(label: "restore-console.digest")
    /// Free slots besides the one being filled; the hashing queue returns one after each slot it
    /// finishes. It starts at 0 and is signalled up: libdispatch traps when a semaphore is released
    /// below its initial value, which the last slot would be.
    private let free = DispatchSemaphore(value: 0)
    private var current = 0
    private var filled = 0

    init(expectedBytes: UInt64? = nil) {
        let size = Int(min(UInt64(Self.maximumSlotSize), max(4096, expectedBytes ?? UInt64(Self.maximumSlotSize))))
        slotSize = size
        state = HashingState(slots: (0..<Self.slotCount).map { _ in .allocate(byteCount: size, alignment: 64) })
        for _ in 1..<Self.slotCount { free.signal() }
    }

    deinit {
        queue.sync {}  // the queue no longer touches the slots
        state.slots.forEach { $0.deallocate() }
    }

    func update(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            let n = min(slotSize - filled, bytes.count - offset)
            let slot = state.slots[current]
            UnsafeMutableRawBufferPointer(rebasing: slot[filled..<(filled + n)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]))
            filled += n
            offset += n
            if filled == slotSize { submit() }
        }
    }

    /// The digest of everything passed to `update`; the instance is spent afterwards.
    func finish() -> [UInt8] {
        submit()
        return queue.sync { state.digest.finish() }
    }

    /// Hands the current slot to the queue and waits for a free one.
    private func submit() {
        let (state, slot, count, free) = (state, current, filled, free)
        queue.async {
            state.digest.update(UnsafeRawBufferPointer(rebasing: state.slots[slot][0..<count]))
            free.signal()
        }
        current = (current + 1) % Self.slotCount
        filled = 0
        free.wait()
    }
}

/// The digest and the slots, shared by the writer and the hashing queue.
///
/// `@unchecked Sendable` is safe because the two never touch the same memory at once: a slot
/// belongs to the writer until `submit` passes it to the serial queue, and comes back only when
/// the queue has hashed it and signalled the semaphore that the writer waits on before reusing it
/// (slots are used in ring order, and the serial queue finishes them in that order); the digest is
/// used only on the queue.
private final class HashingState: @unchecked Sendable {
    let digest = SHA256Digest()
    let slots: [UnsafeMutableRawBufferPointer]

    init(slots: [UnsafeMutableRawBufferPointer]) { self.slots = slots }
}
