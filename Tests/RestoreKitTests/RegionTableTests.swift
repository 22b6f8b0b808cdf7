import Foundation
import Testing
@testable import ClusterAPI
@testable import RestoreDriver

@Suite struct RegionTableTests {
    private func row(_ id: UInt64) -> RegionRow {
        RegionRow(id: id, startKey: [UInt8(id & 0xff)], endKey: [UInt8(id & 0xff), 1], epoch: RegionEpoch(confVer: 1, version: 1), leaderStore: 1,
                  peers: [], phase: .queued, attempts: 0, lastError: nil, waitingFor: nil, since: Date(), fileSetsDone: 0, fileSetsTotal: 1, bytes: 0, history: [])
    }

    /// Rows across many chunks keep their order and positions; a snapshot taken before a change
    /// keeps the rows it had, and the table the change.
    @Test func rowsKeepTheirPlacesAndSnapshotsTheirValues() {
        var table = RegionTable()
        for id in 1...1_000 { table.append(row(UInt64(id))) }
        #expect(table.count == 1_000)
        #expect(table.map(\.id) == Array(1...1_000))
        let snapshot = table
        table[0].phase = .ingested
        table[999].attempts = 7
        table[300] = row(5_000)
        #expect(snapshot[0].phase == .queued && snapshot[999].attempts == 0 && snapshot[300].id == 301)
        #expect(table[0].phase == .ingested && table[999].attempts == 7 && table[300].id == 5_000)
        #expect(table.filter { $0.phase == .ingested }.count == 1)
        var reversed = RegionTable(table.prefix(3))
        reversed.reverse()
        #expect(reversed.map(\.id) == [3, 2, 1])
        #expect(RegionTable().isEmpty)
    }
}
