import RestoreDriver

/// What the restore is waiting for, by reason: the summary above the region table
/// (`waiting: 3 busy (s2), 1 no-leader, 2 download-retry, 1 paused`) and the `w` filter.
public enum WaitSummary {
    public struct Entry: Sendable, Equatable {
        /// The reason as a filter word (`wait:busy`).
        public var reason: String
        public var regions: Int
        /// The stores that the reason names (the busy ones), in order.
        public var stores: [UInt64]
    }

    /// Why a region waits, as a filter word, or nil when it does not wait.
    public static func reason(_ row: RegionRow) -> String? {
        if row.phase == .paused { return "paused" }
        switch row.waitingFor {
        case .serverIsBusy?: return "busy"
        case .noLeader?: return "no-leader"
        case .checkpointWrite?: return "checkpoint"
        case let .retry(step, _, _, _, _)?: return "\(step.rawValue)-retry"
        case nil: return nil
        }
    }

    /// The reasons with their counts, the most common first.
    public static func entries(_ rows: RegionRows) -> [Entry] {
        var counts: [String: Int] = [:]
        var stores: [String: Set<UInt64>] = [:]
        for row in rows {
            guard let reason = reason(row) else { continue }
            counts[reason, default: 0] += 1
            if case let .serverIsBusy(store, _)? = row.waitingFor { stores[reason, default: []].insert(store) }
        }
        return counts.map { Entry(reason: $0.key, regions: $0.value, stores: (stores[$0.key] ?? []).sorted()) }
            .sorted { ($0.regions, $1.reason) > ($1.regions, $0.reason) }
    }

    public static func text(_ entries: [Entry]) -> String {
        guard !entries.isEmpty else { return "" }
        return "waiting: " + entries.map { entry in
            let stores = entry.stores.isEmpty ? "" : " (" + entry.stores.map { "s\($0)" }.joined(separator: " ") + ")"
            return "\(entry.regions) \(entry.reason)\(stores)"
        }.joined(separator: ", ")
    }

    /// The filter `w` moves to from `filter`: each reason in turn, then none.
    public static func nextFilter(after filter: String, in entries: [Entry]) -> String {
        let words = entries.map { "wait:\($0.reason)" }
        guard let i = words.firstIndex(of: filter) else { return words.first ?? "" }
        return i + 1 < words.count ? words[i + 1] : ""
    }
}
