import Foundation
import Testing
@testable import ConsoleUI
@testable import KeyCodec
@testable import ClusterAPI
@testable import RestoreDriver

@Suite struct WaitSummaryTests {
    /// 60 regions: 10 retrying on a busy store 1, 10 paused, and 2 more waits set here. The line
    /// above the table sums them up by reason, and `w` filters the table to each in turn.
    @Test func theWaitsAreSummedUpAndWFiltersByEach() throws {
        var snapshot = sampleSnapshot(regions: 60)
        let queued = snapshot.regions.indices.filter { snapshot.regions[$0].phase == .queued }
        snapshot.regions[queued[0]].waitingFor = .noLeader(retryIn: .seconds(1))
        snapshot.regions[queued[1]].waitingFor = .retry(step: .download, label: "ChecksumMismatch", attempt: 2, attempts: 8, retryIn: .seconds(1))
        var c = ConsoleController()
        c.refreshOrder(snapshot)
        #expect(WaitSummary.text(c.state.waits) == "waiting: 10 busy (s1), 10 paused, 1 download-retry, 1 no-leader")
        let screen = render(snapshot, c.state).lines.joined(separator: "\n")
        #expect(screen.contains(" Waits  10 busy (s1), 10 paused, 1 download-retry, 1 no-leader"), "\(screen)")

        var seen: [String] = []
        for _ in 0..<5 {
            _ = c.handle(.character("w"), snapshot: snapshot, rate: 0)
            seen.append(c.state.filter)
            let shown = c.order.map { snapshot.regions[$0] }
            if let reason = c.state.filter.split(separator: ":").last, !c.state.filter.isEmpty {
                #expect(!shown.isEmpty && shown.allSatisfy { WaitSummary.reason($0) == String(reason) }, "\(c.state.filter)")
            } else {
                #expect(shown.count == 60)
            }
        }
        #expect(seen == ["wait:busy", "wait:paused", "wait:download-retry", "wait:no-leader", ""])
    }
}
