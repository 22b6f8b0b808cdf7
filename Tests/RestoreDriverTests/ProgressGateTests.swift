import Foundation
import Testing
@testable import RestoreDriver

/// A download's progress reaches the monitor at most every 50 ms, and at once when it turns to
/// the rewrite; the log takes its lock only for the events it writes.
struct ProgressGateTests {
    @Test func progressPassesAtMostEveryIntervalAndOnAChangeOfStep() {
        let gate = ProgressGate()
        let start = ContinuousClock.now
        #expect(gate.passes(rewriting: false, now: start))
        #expect(!gate.passes(rewriting: false, now: start + .milliseconds(10)))
        #expect(gate.passes(rewriting: true, now: start + .milliseconds(20)), "the rewrite shows at once")
        #expect(!gate.passes(rewriting: true, now: start + .milliseconds(30)))
        #expect(gate.passes(rewriting: true, now: start + .milliseconds(20) + ProgressGate.interval))
    }

    @Test func onlyLoggedEventsReachTheLog() {
        #expect(!ProgressEvent.peer(region: 1, store: 1, .downloading(percent: 5)).isLogged)
        #expect(!ProgressEvent.storeLoad(store: 1, downloads: 1).isLogged)
        #expect(ProgressEvent.regionIngested(region: 1).isLogged)
        #expect(ProgressEvent.phase(.checksum).isLogged)
    }

    @Test(arguments: [0, 1, 999, 1_000, 1_001, 42_400, 3_600_000, 123_456_789] as [Int64])
    func attemptDurationsAreWrittenAsPrintfWritesThem(microseconds: Int64) {
        let duration = Duration.microseconds(microseconds)
        #expect(ProgressLog.secondsText(duration) == String(format: "%.3f", duration.seconds))
    }
}
