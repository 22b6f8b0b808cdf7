/// The restore's region rows, kept in chunks that are each copied on write: a snapshot shares
/// them with the monitor, so the monitor's next change to a row copies that row's chunk and the
/// list of chunks, not every row, and a reader that lets its snapshot go frees only the chunks
/// changed since. Rows are only appended or changed in place: a row keeps its index.
public struct RegionRows: RandomAccessCollection, MutableCollection, ExpressibleByArrayLiteral, Sendable {
    /// Rows per chunk (a power of two): small enough that a copied chunk costs little, large
    /// enough that the list of chunks stays short (100 for 25,600 regions).
    /// (Inlinable, as the subscript: the console reads every row each frame, and a call across
    /// the module per row would cost more than the read.)
    @usableFromInline static let chunkShift = 8
    @usableFromInline static let chunkMask = (1 << chunkShift) - 1

    @usableFromInline var chunks: [[RegionRow]] = []
    public private(set) var count = 0
    /// The rows whose phase or wait changed, most recent last.
    public var stateChanges: RowChanges { changes }
    @usableFromInline var changes = RowChanges()

    public init() {}

    public init<Rows: Sequence<RegionRow>>(_ rows: Rows) {
        for row in rows { append(row) }
    }

    public init(arrayLiteral rows: RegionRow...) { self.init(rows) }

    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { count }

    @inlinable public subscript(position: Int) -> RegionRow {
        _read {
            precondition(position >= 0 && position < count, "row \(position) of \(count)")
            yield chunks[position >> Self.chunkShift][position & Self.chunkMask]
        }
        _modify {
            precondition(position >= 0 && position < count, "row \(position) of \(count)")
            let (chunk, slot) = (position >> Self.chunkShift, position & Self.chunkMask)
            let (phase, waiting) = (chunks[chunk][slot].phase, chunks[chunk][slot].waitingFor != nil)
            defer {
                if chunks[chunk][slot].phase != phase || (chunks[chunk][slot].waitingFor != nil) != waiting { changes.record(position) }
            }
            yield &chunks[chunk][slot]
        }
    }

    /// The row of region `id`: at index `hint` when it is there, else found by a pass over the rows.
    public func row(_ id: UInt64, at hint: Int?) -> RegionRow? {
        if let hint, hint >= 0, hint < count, self[hint].id == id { return self[hint] }
        return first { $0.id == id }
    }

    public mutating func append(_ row: RegionRow) {
        if count & Self.chunkMask == 0 {
            chunks.append([])
            chunks[chunks.count - 1].reserveCapacity(1 << Self.chunkShift)
        }
        chunks[chunks.count - 1].append(row)
        count += 1
    }
}

/// The indices of the rows whose phase or wait changed, oldest first, over a bounded window: a
/// reader that kept the `revision` of an earlier snapshot finds the rows to look at again without
/// reading every row (the console's order between two sorts).
public struct RowChanges: Sendable {
    /// Enough for a second of a busy restore between two frames; a reader that falls further
    /// behind reads every row once.
    @usableFromInline static let window = 8_192
    @usableFromInline var rows: [Int32] = []
    /// The revision of `rows[0]`.
    @usableFromInline var base = 0

    public init() {}

    /// How many changes were ever recorded.
    public var revision: Int { base + rows.count }

    @inlinable mutating func record(_ row: Int) {
        if rows.count == Self.window {
            rows.removeFirst(Self.window / 2)
            base += Self.window / 2
        }
        rows.append(Int32(row))
    }

    /// The rows changed after `revision` (a row may appear more than once), or nil when the
    /// window no longer reaches back to it.
    public func since(_ revision: Int) -> ArraySlice<Int32>? {
        guard revision >= base, revision <= self.revision else { return nil }
        return rows[(revision - base)...]
    }
}
