import Foundation
import Synchronization
import KeyCodec

/// The engine's live state, kept incrementally (counts per phase, bytes, retries) so a snapshot
/// costs the same whatever the number of regions. Thread-safe.
public final class RestoreMonitor: Sendable {
    static let eventLimit = 500
    static let historyLimit = 60

    struct State {
        var snapshot: RestoreSnapshot
        var rowIndex: [UInt64: Int] = [:]
    }

    private let state: Mutex<State>

    public init(source: String, clusterLocation: String, storeCount: Int, replicas: Int, insecureTLS: Bool) {
        let now = Date()
        state = Mutex(State(snapshot: RestoreSnapshot(
            source: source, clusterLocation: clusterLocation, storeCount: storeCount, replicas: replicas,
            phase: .reading, phaseStarted: [.reading: now], phaseEnded: [:], regions: [], stores: [], counts: [:],
            totalBytes: 0, doneBytes: 0, totalKVs: 0, doneKVs: 0, bytesPerSecond: 0, retries: [:], events: [], eventCount: 0,
            startedAt: now, insecureTLS: insecureTLS, checksumMatch: nil)))
    }

    public func snapshot() -> RestoreSnapshot { state.withLock { $0.snapshot } }

    func update(_ body: (inout RestoreSnapshot) -> Void) { state.withLock { body(&$0.snapshot) } }

    func setPhase(_ phase: RestorePhase) {
        update { s in
            let now = Date()
            s.phaseEnded[s.phase] = now
            s.phase = phase
            s.phaseStarted[phase] = now
        }
    }

    /// Logs an event (the drills log theirs here too).
    public func event(_ level: RestoreEvent.Level, region: UInt64? = nil, store: UInt64? = nil, _ message: String) {
        update { s in
            s.events.append(RestoreEvent(time: Date(), level: level, regionID: region, storeID: store, message: message))
            s.eventCount += 1
            if s.events.count > Self.eventLimit { s.events.removeFirst(s.events.count - Self.eventLimit) }
        }
    }

    func countRetry(_ label: String) { update { $0.retries[label, default: 0] += 1 } }

    /// Adds a row, or replaces the row with the same id.
    public func setRow(_ row: RegionRow) {
        state.withLock { st in
            if let i = st.rowIndex[row.id] {
                st.snapshot.counts[st.snapshot.regions[i].phase, default: 0] -= 1
                st.snapshot.regions[i] = row
            } else {
                st.rowIndex[row.id] = st.snapshot.regions.count
                st.snapshot.regions.append(row)
            }
            st.snapshot.counts[row.phase, default: 0] += 1
        }
    }

    func row(_ id: UInt64) -> RegionRow? { state.withLock { st in st.rowIndex[id].map { st.snapshot.regions[$0] } } }

    func hasRow(_ id: UInt64) -> Bool { state.withLock { $0.rowIndex[id] != nil } }

    /// Changes one row in place, keeping the counts per phase right.
    func updateRow(_ id: UInt64, _ body: (inout RegionRow) -> Void) {
        state.withLock { st in
            guard let i = st.rowIndex[id] else { return }
            let before = st.snapshot.regions[i].phase
            body(&st.snapshot.regions[i])
            let after = st.snapshot.regions[i].phase
            if before != after {
                st.snapshot.counts[before, default: 0] -= 1
                st.snapshot.counts[after, default: 0] += 1
                st.snapshot.regions[i].since = Date()
            }
        }
    }

    func setPeer(_ region: UInt64, store: UInt64, _ phase: PeerPhase) {
        updateRow(region) { row in
            if let i = row.peers.firstIndex(where: { $0.storeID == store }) { row.peers[i].phase = phase }
        }
    }

    func record(_ region: UInt64, _ attempt: AttemptRecord) {
        updateRow(region) { row in
            row.history.append(attempt)
            if row.history.count > 200 { row.history.removeFirst() }
        }
    }
}
