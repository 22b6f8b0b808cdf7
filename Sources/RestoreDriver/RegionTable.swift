/// The rows of the region table, in chunks that snapshots share. The console takes a snapshot
/// every frame while the engine changes rows all the time: with one array, the first change after
/// each snapshot copied every row (and the console freed them again), O(regions) per frame. Here
/// a change copies the chunk that holds its row, and the list of chunks.
public struct RegionTable: Sendable, RandomAccessCollection, MutableCollection, ExpressibleByArrayLiteral {
    /// Rows per chunk: 1 << `chunkShift`.
    private static let chunkShift = 8
    private static let chunkSize = 1 << chunkShift

    private var chunks: [[RegionRow]] = []
    public private(set) var count = 0

    public init() {}

    public init(_ rows: some Sequence<RegionRow>) {
        for row in rows { append(row) }
    }

    public init(arrayLiteral rows: RegionRow...) { self.init(rows) }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(position: Int) -> RegionRow {
        get { chunks[position >> Self.chunkShift][position & (Self.chunkSize - 1)] }
        _modify { yield &chunks[position >> Self.chunkShift][position & (Self.chunkSize - 1)] }
        set { chunks[position >> Self.chunkShift][position & (Self.chunkSize - 1)] = newValue }
    }

    public mutating func append(_ row: RegionRow) {
        if count & (Self.chunkSize - 1) == 0 {
            var chunk: [RegionRow] = []
            chunk.reserveCapacity(Self.chunkSize)
            chunks.append(chunk)
        }
        chunks[chunks.count - 1].append(row)
        count += 1
    }
}
