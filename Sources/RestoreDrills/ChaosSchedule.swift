import KeyCodec
import BackupFormat

/// A seeded random schedule of faults for one restore: the same seed always gives the same faults
/// at the same points of progress. At most one store is impaired at a time (down, partitioned or
/// panicked), so a quorum of every region is always left and the restore can finish.
public struct ChaosSchedule: Sendable, CustomStringConvertible {
    public enum Fault: Sendable, Equatable, CustomStringConvertible {
        case failDownloads(store: UInt64, count: Int)
        case corruptDownload(store: UInt64)
        case transferLeader
        case split
        case busy(store: UInt64, milliseconds: Int)
        /// Down for a while, then up again.
        case storeDown(store: UInt64, milliseconds: Int)
        /// Cut off from every other store for a while, then healed.
        case partition(store: UInt64, milliseconds: Int)
        /// The store's next apply fails, which panics it: the one fault a restore reports as failed.
        case failApply(store: UInt64)

        public var description: String {
            switch self {
            case let .failDownloads(s, n): "fail \(n) download(s) on store \(s)"
            case let .corruptDownload(s): "corrupt a download on store \(s)"
            case .transferLeader: "move a leader"
            case .split: "split a waiting region"
            case let .busy(s, ms): "store \(s) busy for \(ms) ms"
            case let .storeDown(s, ms): "store \(s) down for \(ms) ms"
            case let .partition(s, ms): "store \(s) partitioned for \(ms) ms"
            case let .failApply(s): "fail the next apply on store \(s)"
            }
        }
    }

    public struct Step: Sendable, CustomStringConvertible {
        /// When to inject: the fraction of the backup's bytes restored so far.
        public var atProgress: Double
        public var fault: Fault

        public var description: String { "at \(Int(atProgress * 100))%: \(fault)" }
    }

    public let seed: UInt64
    public let steps: [Step]
    /// Whether the restore reads the backup over HTTP from a server that drops every response
    /// after this many bytes (nil: no drops), so that downloads resume mid-file.
    public let dropAfterBytes: Int?

    public init(seed: UInt64, stores: Int = 3) {
        var random = SyntheticRandom(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ 1)
        func pick(_ n: Int) -> Int { Int(random.next() % UInt64(n)) }
        func store() -> UInt64 { UInt64(pick(stores) + 1) }
        self.seed = seed
        dropAfterBytes = pick(3) == 0 ? 16_384 + pick(48) * 1024 : nil
        // One in six runs panics a store; such a run has no other impaired store.
        let panics = pick(6) == 0
        var steps: [Step] = []
        for _ in 0..<(3 + pick(5)) {
            let fault: Fault
            switch pick(panics ? 5 : 7) {
            case 0: fault = .failDownloads(store: store(), count: 1 + pick(3))
            case 1: fault = .corruptDownload(store: store())
            case 2: fault = .transferLeader
            case 3: fault = .split
            case 4: fault = .busy(store: store(), milliseconds: 100 + pick(900))
            case 5: fault = .storeDown(store: store(), milliseconds: 200 + pick(1_300))
            default: fault = .partition(store: store(), milliseconds: 200 + pick(1_300))
            }
            steps.append(Step(atProgress: Double(pick(90)) / 100, fault: fault))
        }
        if panics { steps.append(Step(atProgress: Double(pick(60)) / 100, fault: .failApply(store: store()))) }
        self.steps = steps.sorted { $0.atProgress < $1.atProgress }
    }

    /// The store that the schedule panics, if any.
    public var panicStore: UInt64? {
        steps.lazy.compactMap { if case let .failApply(s) = $0.fault { s } else { nil } }.first
    }

    public var description: String {
        let storage = dropAfterBytes.map { "HTTP dropping each response after \($0) bytes" } ?? "local"
        return "seed \(seed) (\(storage)): " + steps.map(\.description).joined(separator: "; ")
    }
}
