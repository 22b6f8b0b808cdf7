import Testing
@testable import TestSupport
@testable import RestoreTestSupport
@testable import RestoreDriver
@testable import RestoreDrills

/// A command from the console that cannot act says why in the events, never nothing.
@Suite struct OperatorCommandTests {
    @Test func aCommandThatCannotActSaysWhy() async throws {
        let f = try await RestoreFixture(tables: 1, rows: 1_000)
        let engine = try await f.engine()
        func said(_ text: String) -> Bool { engine.monitor.snapshot().events.contains { $0.message.contains(text) } }

        #expect(await engine.retry(region: 999_999) == false)
        #expect(said("region 999999 is not Failed: nothing to retry"))
        #expect(await engine.retryFailed() == 0)
        #expect(said("no Failed region to retry"))
        await engine.drillStoreDown(99)
        #expect(said("drill: store 99 not taken down") && said("no store 99"), "\(engine.monitor.snapshot().events.map(\.message))")
        #expect(!said("drill: store 99 down"))
        await engine.drillTransferLeader(region: 999_999)
        #expect(said("drill: region 999999 has no leader to move now"))
        await f.close()
    }
}
