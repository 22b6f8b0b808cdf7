import Foundation
import Testing
@testable import ConsoleUI
@testable import KeyCodec
@testable import ClusterAPI
@testable import RestoreDriver

@Suite struct ControllerTests {
    @Test func keysBecomeCommands() {
        let snapshot = sampleSnapshot()
        var c = ConsoleController()
        c.refreshOrder(snapshot)
        let first = snapshot.regions[c.order[0]]
        #expect(first.phase == .failed)
        #expect(c.handle(.character("r"), snapshot: snapshot, rate: 0) == [.retry(first.id)])
        #expect(c.handle(.character("R"), snapshot: snapshot, rate: 0) == [.retryFailed])
        #expect(c.handle(.character("p"), snapshot: snapshot, rate: 0) == [.pause(first.id)])
        #expect(c.handle(.character("P"), snapshot: snapshot, rate: 0) == [.resumeAll], "a region is paused, so P resumes")
        #expect(c.handle(.character("+"), snapshot: snapshot, rate: 8 << 20) == [.setRate(16 << 20)])
        #expect(c.handle(.character("-"), snapshot: snapshot, rate: 8 << 20) == [.setRate(4 << 20)])
        #expect(c.handle(.character("-"), snapshot: snapshot, rate: 0) == [.setRate(64 << 20)])
        _ = c.handle(.down, snapshot: snapshot, rate: 0)
        #expect(c.state.selectedRegion == snapshot.regions[c.order[1]].id)
        #expect(c.handle(.character("r"), snapshot: snapshot, rate: 0).isEmpty, "only failed regions retry")
        #expect(c.handle(.character("d"), snapshot: snapshot, rate: 0).isEmpty, "drills are off")
    }

    @Test func quittingAsksFirst() {
        let snapshot = sampleSnapshot()
        var c = ConsoleController()
        #expect(c.handle(.character("q"), snapshot: snapshot, rate: 0).isEmpty)
        #expect(c.state.overlay == .confirmQuit)
        #expect(c.handle(.character("n"), snapshot: snapshot, rate: 0).isEmpty)
        #expect(c.state.overlay == .none && !c.state.quitting)
        _ = c.handle(.character("q"), snapshot: snapshot, rate: 0)
        #expect(c.handle(.character("y"), snapshot: snapshot, rate: 0) == [.quit])
    }

    @Test func filterAndSort() {
        let snapshot = sampleSnapshot(regions: 12)
        var c = ConsoleController()
        c.refreshOrder(snapshot)
        _ = c.handle(.character("/"), snapshot: snapshot, rate: 0)
        for ch in "state:failed" { _ = c.handle(.character(ch), snapshot: snapshot, rate: 0) }
        _ = c.handle(.enter, snapshot: snapshot, rate: 0)
        #expect(c.order.count == 2 && c.order.allSatisfy { snapshot.regions[$0].phase == .failed })
        _ = c.handle(.escape, snapshot: snapshot, rate: 0)
        #expect(c.order.count == 12)
        _ = c.handle(.character("s"), snapshot: snapshot, rate: 0)
        #expect(c.state.sort == .id)
        #expect(c.order.map { snapshot.regions[$0].id } == snapshot.regions.map(\.id).sorted())
        #expect(RegionOrdering.order(snapshot.regions, sort: .id, filter: "sha256").count == 2)
        #expect(RegionOrdering.order(snapshot.regions, sort: .id, filter: "table:143").count == 12)
        #expect(RegionOrdering.order(snapshot.regions, sort: .id, filter: "table:999").isEmpty)
    }
}
