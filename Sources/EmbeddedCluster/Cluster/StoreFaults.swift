import Foundation
import Synchronization
import KeyCodec
import ClusterAPI

/// Faults armed on one store, for tests, the demo and the console's drills. Each counter is
/// consumed as the fault fires.
public struct StoreFaults: Sendable, Equatable {
    /// The next N downloads fail with an injected error.
    public var failDownloads = 0
    /// The next N downloads are corrupted (a byte flipped) after they arrive.
    public var corruptDownloads = 0
    /// Requests are refused with ServerIsBusy until this instant.
    public var busyUntil: ContinuousClock.Instant?
    /// The next N ingests fail on apply, which panics the store.
    public var failApplies = 0
    /// The next N ingests find no file descriptor free (EMFILE) on apply: they wait and are tried again.
    public var exhaustDescriptors = 0

    public init() {}

    var isArmed: Bool { failDownloads > 0 || corruptDownloads > 0 || busyUntil != nil || failApplies > 0 || exhaustDescriptors > 0 }
}

/// The one seam through which faults reach a store's code, as TiKV's `fail_point!`: the store asks
/// it whether a fault fires, and until a drill arms one the answer is a relaxed atomic load and
/// nothing more (no lock, no fault code run).
public final class FaultInjector: Sendable {
    private let armed = Atomic<Bool>(false)
    private let faults = Mutex(StoreFaults())

    init() {}

    /// What is armed now.
    public var pending: StoreFaults { faults.withLock { $0 } }

    /// Arms (or disarms) faults.
    public func arm(_ body: (inout sending StoreFaults) -> Void) {
        faults.withLock { f in
            body(&f)
            armed.store(f.isArmed, ordering: .relaxed)
        }
    }

    /// Consumes one pending fault of the counter at `counter`; false when none is pending.
    func fire(_ counter: WritableKeyPath<StoreFaults, Int> & Sendable) -> Bool {
        guard armed.load(ordering: .relaxed) else { return false }
        return faults.withLock { f in
            guard f[keyPath: counter] > 0 else { return false }
            f[keyPath: counter] -= 1
            armed.store(f.isArmed, ordering: .relaxed)
            return true
        }
    }

    /// Milliseconds left of an injected busy period, or nil when not busy.
    func busyBackoff() -> UInt64? {
        guard armed.load(ordering: .relaxed) else { return nil }
        return faults.withLock { f in
            guard let until = f.busyUntil else { return nil }
            let left = until - .now
            guard left > .zero else {
                f.busyUntil = nil
                armed.store(f.isArmed, ordering: .relaxed)
                return nil
            }
            // Rounded up: a busy store never asks for a zero wait.
            return UInt64(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000) + 1
        }
    }

    /// A bad disk: flips one byte a third of the way into a downloaded file.
    static func flipByte(in path: String) {
        guard let f = fopen(path, "r+b") else { return }
        defer { fclose(f) }
        fseek(f, 0, SEEK_END)
        let size = ftell(f)
        guard size > 0 else { return }
        fseek(f, size / 3, SEEK_SET)
        let byte = fgetc(f)
        fseek(f, size / 3, SEEK_SET)
        fputc(byte ^ 0x55, f)
    }

    /// The same bad disk under a download held in memory.
    static func flipByte(in bytes: inout [UInt8]) {
        if !bytes.isEmpty { bytes[bytes.count / 3] ^= 0x55 }
    }
}
