import Foundation
import KeyCodec
import ClusterAPI
import RestoreDriver

/// Which region rows show, in which order: the sort and `/` filter of the region table.
/// The filter takes words: `state:failed`, `table:104`, `store:2`, `wait:busy`, or any text, which matches the
/// region id, its range as shown, or its last error.
public enum RegionOrdering {
    public static func order(_ rows: RegionRows, sort: ConsoleState.Sort, filter: String, now: Date = Date()) -> [Int] {
        let terms = terms(filter)
        var indices = rows.indices.filter { i in terms.allSatisfy { matches(rows[i], $0) } }
        // Each row's sort key is read once, into a flat array: the comparisons read no row.
        switch sort {
        case .id:
            let ids = rows.map(\.id)
            indices.sort { ids[$0] < ids[$1] }
        case .range:
            let starts = rows.map(\.startKey)
            indices.sort { keyLess(starts[$0], starts[$1]) }
        case .attempts:
            let keys = rows.map { ($0.attempts, $0.id) }
            indices.sort { (keys[$0].0, keys[$1].1) > (keys[$1].0, keys[$0].1) }
        case .stuckFirst:
            // Waiting longest first within a group, then by id.
            let keys = rows.map { (urgency($0), $0.since, $0.id) }
            indices.sort { keys[$0] < keys[$1] }
        }
        return indices
    }

    /// The filter's words, each of which a row must match.
    static func terms(_ filter: String) -> [String] { filter.lowercased().split(separator: " ").map(String.init) }

    /// How many values `urgency` takes.
    static let groupCount = 7

    /// What needs the operator first: failed, retrying, paused, waiting on a store (busy, down,
    /// no leader), moving (downloading, rewriting, ready, ingesting), queued, and ingested last.
    static func urgency(_ row: RegionRow) -> Int { urgency(row.phase, waiting: row.waitingFor != nil) }

    /// From the two fields alone, so that a pass over every row copies no row.
    static func urgency(_ phase: RegionPhase, waiting: Bool) -> Int {
        switch phase {
        case .failed: 0
        case .retrying: 1
        case .paused: 2
        case .downloading, .ready, .ingesting: waiting ? 3 : 4
        case .queued: waiting ? 3 : 5
        case .ingested: 6
        }
    }

    static func matches(_ row: RegionRow, _ term: String) -> Bool {
        if let value = term.split(separator: ":", maxSplits: 1).last, term.contains(":") {
            let key = term.prefix { $0 != ":" }
            switch key {
            case "state": return row.phase.rawValue.hasPrefix(value)
            case "wait": return WaitSummary.reason(row) == String(value)
            case "table": return RangeText.tableIDs(row).contains { String($0) == value }
            case "store": return row.peers.contains { "\($0.storeID)" == value || "s\($0.storeID)" == value }
            default: break
            }
        }
        if "\(row.id)".contains(term) { return true }
        if RangeText.describe(row.startKey, row.endKey).lowercased().contains(term) { return true }
        return row.lastError?.lowercased().contains(term) ?? false
    }
}

/// Region bounds as people read them: `t104_r 5000 .. t104_r 9000` for TiDB keys, hex otherwise.
public enum RangeText {
    public static func key(_ bound: [UInt8], isEnd: Bool) -> String {
        if bound.isEmpty { return isEnd ? "+inf" : "-inf" }
        let user = (try? Memcomparable.decodeAll(bound)) ?? bound
        switch TableCodec.decode(user) {
        case let .record(table, handle)?: return "t\(table)_r \(handle)"
        case let .index(table, index, values)?: return values.isEmpty ? "t\(table)_i\(index)" : "t\(table)_i\(index) \(TableKey.index(tableID: table, indexID: index, values: values).description.components(separatedBy: " / ").last ?? "")"
        case let .table(table, rest)?:
            if rest.isEmpty { return "t\(table)" }
            return rest == [UInt8(ascii: "`")] ? "t\(table) end" : "t\(table) \(rest.hexString)"
        case let .commonRecord(table, handle)?: return "t\(table)_r 0x\(handle.hexString)"
        case nil:
            let printable = user.allSatisfy { (0x20..<0x7F).contains($0) }
            return printable ? String(decoding: user, as: UTF8.self) : "0x" + user.hexString
        }
    }

    public static func describe(_ start: [UInt8], _ end: [UInt8]) -> String {
        "\(key(start, isEnd: false)) .. \(key(end, isEnd: true))"
    }

    static func tableIDs(_ row: RegionRow) -> [Int64] {
        [row.startKey, row.endKey].compactMap { bound in
            TableCodec.decode((try? Memcomparable.decodeAll(bound)) ?? bound)?.tableID
        }
    }
}
