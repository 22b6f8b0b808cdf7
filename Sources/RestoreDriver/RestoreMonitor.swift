import Foundation
import Synchronization
import KeyCodec

/// The engine's live state, kept incrementally (counts per phase, bytes, retries) so a snapshot
/// costs the same whatever the number of regions. Thread-safe.
public final class RestoreMonitor: Sendable {
    static let eventLimit = 500
    static let historyLimit = 60
    /// Events kept for the event history; older ones are in the log file only.
    static let eventHistoryLimit = 100_000

    struct State {
        var snapshot: RestoreSnapshot
        var rowIndex: [UInt64: Int] = [:]
        /// Every event, oldest first (up to `eventHistoryLimit`); not in the snapshot, which stays small.
        var history: [RestoreEvent] = []
        /// Events that fell out of `history` (they are in the log file).
        var historyDropped = 0
    }

    private let state: Mutex<State>

    public init(source: String, clusterLocation: String, storeCount: Int, replicas: Int, insecureTLS: Bool) {
        let now = Date()
        state = Mutex(State(snapshot: RestoreSnapshot(
            source: source, clusterLocation: clusterLocation, storeCount: storeCount, replicas: replicas,
            phase: .reading, phaseStarted: [.reading: now], phaseEnded: [:], regions: [], stores: [], counts: [:],
            totalBytes: 0, doneBytes: 0, totalKVs: 0, doneKVs: 0, bytesPerSecond: 0, retries: [:], events: [], eventCount: 0,
            startedAt: now, insecureTLS: insecureTLS, checksum: nil)))
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
        let event = RestoreEvent(time: Date(), level: level, regionID: region, storeID: store, message: message)
        state.withLock { st in
            st.snapshot.events.append(event)
            st.snapshot.eventCount += 1
            if st.snapshot.events.count > Self.eventLimit { st.snapshot.events.removeFirst(st.snapshot.events.count - Self.eventLimit) }
            st.history.append(event)
            if st.history.count > Self.eventHistoryLimit {
                let dropped = st.history.count / 10
                st.history.removeFirst(dropped)
                st.historyDropped += dropped
            }
        }
    }

    /// A window of the event history: of the events whose text holds `search` (any, when empty),
    /// the `count` that end `fromEnd` events before the newest; how many match in all; and how
    /// many older events are no longer kept (the log file has them).
    public func history(matching search: String, count: Int, fromEnd: Int) -> EventHistoryWindow {
        state.withLock { st in
            let matching = search.isEmpty ? st.history[...] : st.history.filter { $0.message.localizedCaseInsensitiveContains(search) }[...]
            let end = max(0, matching.count - fromEnd), start = max(0, end - count)
            return EventHistoryWindow(
                events: Array(matching[matching.startIndex + start ..< matching.startIndex + end]), matches: matching.count, dropped: st.historyDropped)
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

    /// Changes every row that `matches` in place, keeping the counts per phase right; the rows
    /// that do not match are left alone (and their chunks unshared with earlier snapshots).
    func updateRows(where matches: (RegionRow) -> Bool, _ body: (inout RegionRow) -> Void) {
        let ids = state.withLock { st in Array(st.snapshot.regions.lazy.filter(matches).map(\.id)) }
        for id in ids { updateRow(id, body) }
    }

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

    /// The bytes a row's attempts may hold, their errors' text counted: a region that fails
    /// with long messages keeps fewer of them, never more memory. The oldest go first.
    static let historyBytes = 8 << 10

    func record(_ region: UInt64, _ attempt: AttemptRecord) {
        updateRow(region) { row in
            // Grown a slot at a time, not doubled: most rows end with a handful of attempts.
            row.history.reserveCapacity(row.history.count + 1)
            row.history.append(attempt)
            var bytes = row.history.reduce(0) { $0 + $1.footprint }
            while bytes > Self.historyBytes, row.history.count > 1 { bytes -= row.history.removeFirst().footprint }
        }
    }
}

/// What the event history view shows: a window of events, how many match, and how many older
/// events only the log file still holds.
public struct EventHistoryWindow: Sendable, Equatable {
    public var events: [RestoreEvent]
    public var matches: Int
    public var dropped: Int

    public init(events: [RestoreEvent] = [], matches: Int = 0, dropped: Int = 0) {
        self.events = events
        self.matches = matches
        self.dropped = dropped
    }
}
