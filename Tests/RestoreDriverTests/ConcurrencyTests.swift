import Foundation
import Synchronization
import Testing
@testable import RestoreTestSupport
@testable import ClusterAPI
@testable import EmbeddedCluster
@testable import RestoreDriver

/// Ingests that wait until `count` of them wait together (then every one goes on), or until
/// `expire` is called, which lets them go too and is recorded: a test never hangs on it.
actor IngestGate {
    let count: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private var open = false
    /// True when `count` ingests did wait together.
    private(set) var filled = false

    init(count: Int) { self.count = count }

    func pass() async {
        guard !open else { return }
        if waiting.count + 1 < count {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            filled = true
            release()
        }
    }

    func expire() { release() }

    private func release() {
        open = true
        for w in waiting { w.resume() }
        waiting.removeAll()
    }
}

@Suite struct ConcurrencyTests {
    /// A region that waits for its ingest leaves its download slots to the next region: with one
    /// download slot a store, `regionsPerDownloadSlot` times as many regions reach their ingest
    /// together as the cluster has slots, and no store ever runs two downloads at once.
    @Test func aRegionWaitingForItsIngestLeavesItsDownloadSlotsToTheNext() async throws {
        let f = try await RestoreFixture(tables: 4, rows: 4_000)
        f.options.mergeSize = 1
        f.options.downloadsPerStore = 1
        f.options.concurrentIngests = 64
        let regionsInFlight = 3 * RestoreEngine.regionsPerDownloadSlot
        let gate = IngestGate(count: regionsInFlight)
        let downloads = Mutex<(now: [UInt64: Int], most: Int)>(([:], 0))
        let cluster = InterposedCluster(f.cluster, hooks: .init(
            downloading: { store, starts in
                downloads.withLock { d in
                    d.now[store, default: 0] += starts ? 1 : -1
                    d.most = max(d.most, d.now[store] ?? 0)
                }
            },
            ingesting: { await gate.pass() }))
        let engine = try await RestoreEngine.prepare(storage: f.storage, cluster: cluster, stateDirectory: f.cluster.directory, options: f.options)
        try #require(engine.plan.fileSets.count > regionsInFlight, "enough regions to fill the gate")
        // A bound on the wait, not a synchronisation: with fewer regions in flight the gate never
        // fills, and the restore goes on once it expires.
        let deadline = Task {
            try await Task.sleep(for: .seconds(60))
            await gate.expire()
        }
        #expect(await engine.run() == .success)
        deadline.cancel()
        #expect(await gate.filled, "\(regionsInFlight) regions waited for their ingests together")
        #expect(downloads.withLock { $0.most } == 1, "one download a store at a time")
        await f.close()
    }
}
