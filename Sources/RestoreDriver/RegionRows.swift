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
            yield &chunks[position >> Self.chunkShift][position & Self.chunkMask]
        }
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
