import KeyCodec

/// What the operator does to a running restore: pause and resume regions, retry Failed ones,
/// change the rate limit. The console, the headless runner and the tests call these.
extension RestoreEngine {
    /// Pauses a region at its next protocol step; a region still queued shows Paused at once.
    public func pause(region id: UInt64) {
        control.pauses.pause(id)
        reporter.report(.operatorPaused(region: id))
    }

    public func resume(region id: UInt64) {
        control.pauses.resume(id)
        reporter.report(.operatorResumed(region: id))
    }

    public func pauseAll() {
        control.pauses.pauseAll()
        reporter.report(.operatorPausedAll)
    }

    public func resumeAll() {
        control.pauses.resumeAll()
        reporter.report(.operatorResumedAll)
    }

    /// Puts a Failed region back to work; returns false when it is not Failed.
    @discardableResult
    public func retry(region id: UInt64) async -> Bool {
        guard let work = control.state.withLock({ $0.failed.removeValue(forKey: id) }) else {
            reporter.report(.log(.info, region: id, "region \(id) is not Failed: nothing to retry"))
            return false
        }
        reporter.report(.requeued(region: id))
        reporter.report(.log(.info, region: id, "retry requested by operator"))
        await queue.push(work)
        return true
    }

    public func retryFailed() async -> Int {
        let ids = control.state.withLock { Array($0.failed.keys) }
        if ids.isEmpty { reporter.report(.log(.info, "no Failed region to retry")) }
        for id in ids { await retry(region: id) }
        return ids.count
    }

    public var failedRegions: [UInt64] { control.state.withLock { Array($0.failed.keys).sorted() } }

    /// Changes every store's download rate limit, live.
    public func setRateLimit(_ bytesPerSecond: UInt64) {
        rate.set(bytesPerSecond)
        reporter.report(.log(.info, "download rate limit set to \(bytesPerSecond == 0 ? "unlimited" : ByteFormat.rate(Double(bytesPerSecond))) per store"))
    }

    public var rateLimit: UInt64 { rate.current }
}
