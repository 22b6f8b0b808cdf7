import Testing
@testable import KeyCodec

/// The binary search behind the plan's, the checksum's and the console's lookups agrees with a
/// scan: the count of elements that belong before, for every cut of sorted arrays of every size.
struct PartitionPointTests {
    @Test func agreesWithAScanOverEveryCut() {
        for count in 0...9 {
            let values = (0..<count).map { $0 * 2 }
            for cut in -1...(count * 2) {
                #expect(values.partitionPoint { $0 <= cut } == values.filter { $0 <= cut }.count, "\(values) cut \(cut)")
                #expect(values[...].dropFirst(count > 0 ? 1 : 0).partitionPoint { $0 < cut } == (count > 0 ? 1 : 0) + values.dropFirst(count > 0 ? 1 : 0).filter { $0 < cut }.count)
            }
        }
    }

    @Test func findsTheLastKeyAtOrBefore() {
        let starts: [[UInt8]] = [[], [0x10], [0x10, 0x00], [0x20]]
        let after = starts.partitionPoint { !keyLess([0x10, 0x00, 0x01], $0) }
        #expect(after == 3, "the key falls under [0x10, 0x00]")
    }
}
