import KeyCodec
import RestoreDriver

/// The region table's order from one sort to the next. A sort reads every row and runs apart
/// (`LiveOrdering`); between two sorts, a row whose state changed moves to its group at once
/// (stuck first), and a row added since shows at the end of its group. The snapshot's journal of
/// state changes (`RegionRows.stateChanges`) names the rows to look at, and a position is found
/// from the groups' bounds and the few rows that moved: a frame's work is O(rows changed + rows
/// shown), never O(rows).
public struct DisplayOrder: RandomAccessCollection, Sendable {
    /// Row indices in the sort's order, grouped as the rows stood at the sort.
    private var sorted: [Int] = []
    /// Each row's position in `sorted`, -1 for a row the filter left out; rows past its end were
    /// added after the sort.
    private var positions: [Int32] = []
    /// Where each group begins in `sorted`, and where the last ends.
    private var starts: [Int] = [0, 0]
    /// The rows that stand in another group than `sorted` has them in (or in none: rows added
    /// since), with the group they belong in now.
    private var moved: [Int: Int] = [:]
    /// Per group, from `moved`: the positions in `sorted` of the rows that left it, and the keys
    /// (`key(ofRow:)`) of those that came in, each sorted; how many of the latter sort before the
    /// group's own rows, and the group's size.
    private var left: [[Int]] = [[]]
    private var came: [[Int]] = [[]]
    private var cameBefore: [Int] = [0]
    private var sizes: [Int] = [0]
    public private(set) var count = 0
    /// The journal's revision and the rows read so far.
    private var revision = 0
    private(set) var rowsSeen = 0
    private var grouped = false
    private var terms: [String] = []
    /// False for the empty order before the first sort, which takes no rows.
    private var tracking = false

    public init() {}

    /// The order of a sort of `rows` (the same rows it read): with `.stuckFirst`, grouped by
    /// urgency; later snapshots of the same rows move rows through `update(with:)`.
    public init(sorted order: [Int], rows: RegionRows, sort: ConsoleState.Sort, filter: String) {
        grouped = sort == .stuckFirst
        terms = RegionOrdering.terms(filter)
        tracking = true
        revision = rows.stateChanges.revision
        rowsSeen = rows.count
        let groups = grouped ? RegionOrdering.groupCount : 1
        let groupOf = order.map { group(rows[$0]) }
        // A stable counting sort: a sort by urgency is grouped already, and costs one pass.
        var counts = [Int](repeating: 0, count: groups)
        for g in groupOf { counts[g] += 1 }
        starts = [0]
        for g in 0..<groups { starts.append(starts[g] + counts[g]) }
        var next = Array(starts.dropLast())
        sorted = [Int](repeating: 0, count: order.count)
        for (i, row) in order.enumerated() {
            sorted[next[groupOf[i]]] = row
            next[groupOf[i]] += 1
        }
        positions = [Int32](repeating: -1, count: rows.count)
        for (p, row) in sorted.enumerated() { positions[row] = Int32(p) }
        rebuild()
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    /// The row index shown at `position`.
    public subscript(position: Int) -> Int {
        precondition(position >= 0 && position < count, "position \(position) of \(count)")
        var k = position
        for g in sizes.indices {
            if k < sizes[g] { return element(k, ofGroup: g) }
            k -= sizes[g]
        }
        preconditionFailure("sizes do not add up to count")
    }

    /// Where `row` is shown, or nil when it is not (the filter left it out).
    public func position(ofRow row: Int) -> Int? {
        let group: Int, local: Int
        if let g = moved[row] {
            group = g
            let wanted = key(ofRow: row)
            let i = came[g].partitionPoint { $0 < wanted }
            local = i < cameBefore[g] ? i : i + segment(g) - left[g].count
        } else if row < positions.count, positions[row] >= 0 {
            let p = Int(positions[row])
            group = groupOf(position: p)
            local = cameBefore[group] + (p - starts[group]) - left[group].partitionPoint { $0 < p }
        } else {
            return nil
        }
        return sizes[..<group].reduce(0, +) + local
    }

    /// Brings the order to `rows`, a later snapshot of the rows it was sorted from: each row
    /// whose state changed since goes to its group now, each row added since to the end of its.
    /// Returns true when anything moved.
    @discardableResult
    public mutating func update(with rows: RegionRows) -> Bool {
        guard tracking else { return false }
        var changed = false
        let known = Swift.min(rowsSeen, rows.count)
        if let changes = rows.stateChanges.since(revision) {
            for row in changes where Int(row) < known { changed = place(Int(row), rows[Int(row)]) || changed }
        } else {
            for row in 0..<known { changed = place(row, rows[row]) || changed }
        }
        revision = rows.stateChanges.revision
        if rows.count > rowsSeen {
            for row in rowsSeen..<rows.count { changed = place(row, rows[row]) || changed }
            rowsSeen = rows.count
        }
        if changed { rebuild() }
        return changed
    }

    // MARK: - Groups

    private func group(_ row: RegionRow) -> Int { grouped ? RegionOrdering.urgency(row) : 0 }

    private func segment(_ g: Int) -> Int { starts[g + 1] - starts[g] }

    private func groupOf(position p: Int) -> Int {
        var g = 0
        while starts[g + 1] <= p { g += 1 }
        return g
    }

    /// Rows added after the sort follow every sorted row, in the order they came.
    private func key(ofRow row: Int) -> Int { row < positions.count ? Int(positions[row]) : sorted.count + row - positions.count }

    private func row(ofKey key: Int) -> Int { key < sorted.count ? sorted[key] : positions.count + key - sorted.count }

    /// Records where `row` belongs now; true when that differs from what was recorded.
    private mutating func place(_ index: Int, _ row: RegionRow) -> Bool {
        let now: Int?
        if index < positions.count {
            guard positions[index] >= 0 else { return false }
            let g = group(row)
            now = g == groupOf(position: Int(positions[index])) ? nil : g
        } else {
            // Added since the sort: shown while it matches the filter.
            now = terms.allSatisfy { RegionOrdering.matches(row, $0) } ? group(row) : nil
        }
        if moved[index] == now { return false }
        moved[index] = now
        return true
    }

    private mutating func rebuild() {
        let groups = starts.count - 1
        left = Array(repeating: [], count: groups)
        came = Array(repeating: [], count: groups)
        for (row, g) in moved {
            came[g].append(key(ofRow: row))
            if row < positions.count { let p = Int(positions[row]); left[groupOf(position: p)].append(p) }
        }
        for g in 0..<groups {
            left[g].sort()
            came[g].sort()
        }
        cameBefore = (0..<groups).map { g in came[g].partitionPoint { $0 < starts[g] } }
        sizes = (0..<groups).map { segment($0) - left[$0].count + came[$0].count }
        count = sizes.reduce(0, +)
    }

    /// The `k`th row of group `g`: the rows that came in from before its own, its own rows that
    /// stayed, then the rows that came in from after.
    private func element(_ k: Int, ofGroup g: Int) -> Int {
        if k < cameBefore[g] { return row(ofKey: came[g][k]) }
        let k = k - cameBefore[g], stayed = segment(g) - left[g].count
        guard k < stayed else { return row(ofKey: came[g][cameBefore[g] + k - stayed]) }
        // The kth position of the segment that no row left.
        var p = starts[g] + k
        for gone in left[g] {
            if gone <= p { p += 1 } else { break }
        }
        return sorted[p]
    }
}
