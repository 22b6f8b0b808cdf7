import Testing
@testable import KeyCodec
@testable import RestoreDriver

/// The checksum finds a key's file set once for a run of keys: the range `set(holding:)` returns
/// must hold no key that another lookup would give to another set.
struct SetsByOldKeyTests {
    static func set(_ id: Int, _ start: String, _ end: String) -> FileSet {
        let range = KeyRange(start: Array(start.utf8), end: Array(end.utf8))
        return FileSet(id: id, files: [], oldRange: range, newRange: range, tableID: nil)
    }

    @Test func aSetsRangeIsCutAtTheNextSetsStart() throws {
        // c..f overlaps d..e (the later start wins inside it); g.. is unbounded; a gap at f..g.
        let sets = SetsByOldKey([Self.set(1, "c", "f"), Self.set(2, "d", "e"), Self.set(3, "g", "")])
        #expect(sets.set(holding: Array("b".utf8)) == nil)
        let first = try #require(sets.set(holding: Array("c".utf8)))
        #expect(first.id == 1 && first.range == KeyRange(start: Array("c".utf8), end: Array("d".utf8)))
        #expect(sets.set(holding: Array("d5".utf8))?.id == 2)
        #expect(sets.set(holding: Array("e5".utf8)) == nil, "past the set that starts last and holds no more")
        #expect(sets.set(holding: Array("f".utf8)) == nil)
        let last = try #require(sets.set(holding: Array("zz".utf8)))
        #expect(last.id == 3 && last.range.end.isEmpty)
    }

    /// A model check over random sets (overlapping, adjacent, with gaps) and keys in order: taking
    /// the set from the last range while a key stays in it gives each key the set a lookup gives.
    @Test func aRunOfKeysInTheLastRangeBelongsToItsSet() {
        var random = SystemRandomNumberGenerator()
        let letters = Array("abcdefgh")
        func key(_ length: Int) -> [UInt8] { (0..<length).map { _ in UInt8(ascii: letters.randomElement(using: &random)!.unicodeScalars.first!) } }
        for _ in 0..<200 {
            let sets = SetsByOldKey((0..<Int.random(in: 1...6, using: &random)).map { id in
                let a = key(Int.random(in: 1...2, using: &random)), b = key(Int.random(in: 1...2, using: &random))
                let (start, end) = keyLess(a, b) ? (a, b) : (b, a.count < 2 ? a + [0] : a)
                let range = KeyRange(start: start, end: Bool.random(using: &random) ? end : [])
                return FileSet(id: id, files: [], oldRange: range, newRange: range, tableID: nil)
            })
            let keys = (0..<60).map { _ in key(Int.random(in: 1...3, using: &random)) }.sorted { keyLess($0, $1) }
            var cached: (id: Int, range: KeyRange)?
            for k in keys {
                if cached?.range.contains(k) != true { cached = sets.set(holding: k) }
                #expect(cached?.id == sets.set(holding: k)?.id, "key \(k)")
            }
        }
    }
}
