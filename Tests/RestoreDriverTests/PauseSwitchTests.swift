import Testing
@testable import TestSupport
@testable import RestoreDriver

/// A pause and a resume reach the workers waiting on them as wake-ups.
@Suite struct PauseSwitchTests {
    @Test func aResumeWakesTheRegionsWaitingWorkerAndNoOther() async throws {
        let pauses = PauseSwitch()
        pauses.pause(1)
        pauses.pause(2)
        let one = Task { await pauses.whilePaused(1) }
        let two = Task { await pauses.whilePaused(2) }
        try await waitUntil(timeout: .seconds(10)) { pauses.waiting == 2 }
        pauses.resume(1)
        await one.value
        #expect(pauses.waiting == 1, "region 2 still waits")
        #expect(pauses.isPaused(2) && !pauses.isPaused(1))
        pauses.resumeAll()
        await two.value
        #expect(pauses.waiting == 0)
    }

    @Test func aPauseOfAllWakesEveryWatcher() async throws {
        let pauses = PauseSwitch()
        let watchers = (1...5).map { region in Task { await pauses.untilPaused(UInt64(region)) } }
        try await waitUntil(timeout: .seconds(10)) { pauses.waiting == 5 }
        pauses.pauseAll()
        for watcher in watchers { await watcher.value }
        #expect(pauses.isPaused(42))
        // Already as awaited: no wait at all.
        await pauses.untilPaused(3)
        pauses.resumeAll()
        await pauses.whilePaused(3)
        #expect(pauses.waiting == 0)
    }

    @Test func aCancelledWaitReturnsAndLeavesNothingBehind() async throws {
        let pauses = PauseSwitch()
        pauses.pause(7)
        let waiter = Task { await pauses.whilePaused(7) }
        try await waitUntil(timeout: .seconds(10)) { pauses.waiting == 1 }
        waiter.cancel()
        await waiter.value
        #expect(pauses.waiting == 0 && pauses.isPaused(7))
        // Cancelled before it waits: it returns at once, listed nowhere.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            await pauses.whilePaused(7)
        }
        await early.value
        #expect(pauses.waiting == 0)
    }
}
