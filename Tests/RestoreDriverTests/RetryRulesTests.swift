import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ExternalStorage
@testable import ClusterAPI
@testable import RestoreDriver

/// The retry table, case by case, against BR's retry facts (Docs/ARCHITECTURE.md): downloads get 8
/// attempts from 1 s to 4 s, ingests 16 from 40 ms to 10 s; NotLeader follows the named leader;
/// EpochNotMatch and KeyNotInRegion re-scan; ServerIsBusy and RegionNotFound are retried;
/// StaleCommand is done; what is not retryable fails at once.
@Suite struct RetryRulesTests {
    static let table = RetryRules(download: RestoreOptions().download, ingest: RestoreOptions().ingest)
    static let leader = PeerMeta(id: 7, storeID: 2)
    static let region = Region(id: 5, startKey: [], endKey: [], epoch: RegionEpoch(), peers: [leader])

    enum Expected: Sendable {
        case retry(min: Duration, max: Duration, counts: Bool)
        case retryOnLeader(PeerMeta?, min: Duration, max: Duration)
        case refreshRegion, downloadAgain, done, fail

        func matches(_ action: RetryAction) -> Bool {
            switch (self, action) {
            case let (.retry(lo, hi, counts), .retry(wait, c)): counts == c && wait >= lo && wait <= hi
            case let (.retryOnLeader(l, lo, hi), .retryOnLeader(leader, wait)): l == leader && wait >= lo && wait <= hi
            case (.refreshRegion, .refreshRegion), (.downloadAgain, .downloadAgain), (.done, .done): true
            case (.fail, .fail): true
            default: false
            }
        }
    }

    static let downloadCases: [(ImportError, Int, Expected)] = [
        (.region(.epochNotMatch(regionID: 5, currentRegions: [region])), 1, .refreshRegion),
        (.region(.regionNotFound(regionID: 5)), 1, .refreshRegion),
        (.region(.keyNotInRegion(key: [1], regionID: 5, startKey: [], endKey: [])), 1, .refreshRegion),
        // A busy store's own backoff, uncounted; never less than the floor of 40 ms.
        (.region(.serverIsBusy(storeID: 1, reason: "busy", backoffMillis: 500)), 1, .retry(min: .milliseconds(500), max: .milliseconds(500), counts: false)),
        (.region(.serverIsBusy(storeID: 1, reason: "busy", backoffMillis: 0)), 7, .retry(min: .milliseconds(40), max: .milliseconds(40), counts: false)),
        // 1 s, doubling, up to 4 s, with jitter of a quarter.
        (.injected(storeID: 1, what: "fault"), 1, .retry(min: .milliseconds(750), max: .milliseconds(1250), counts: true)),
        (.injected(storeID: 1, what: "fault"), 2, .retry(min: .milliseconds(1500), max: .milliseconds(2500), counts: true)),
        (.corruptFile(name: "f", reason: "block"), 7, .retry(min: .seconds(3), max: .seconds(5), counts: true)),
        (.injected(storeID: 1, what: "fault"), 8, .fail),  // eight attempts in all
        (.rewrite(name: "f", error: .wrongKeyPrefix(key: [1])), 1, .fail),
        (.diskFull(storeID: 1, needed: 10, available: 1), 1, .fail),
        (.region(.staleCommand(regionID: 5)), 1, .fail),
    ]

    @Test(arguments: downloadCases)
    func downloadFailures(error: ImportError, attempt: Int, expected: Expected) {
        let action = Self.table.action(after: error, in: .download, attempt: attempt)
        #expect(expected.matches(action), "\(error.label) at attempt \(attempt): \(action)")
    }

    static let ingestCases: [(ImportError, Int, Expected)] = [
        (.region(.notLeader(regionID: 5, leader: leader)), 1, .retryOnLeader(leader, min: .zero, max: .zero)),
        (.region(.notLeader(regionID: 5, leader: nil)), 1, .retryOnLeader(nil, min: .milliseconds(30), max: .milliseconds(50))),
        (.region(.epochNotMatch(regionID: 5, currentRegions: [region])), 3, .refreshRegion),
        (.region(.keyNotInRegion(key: [1], regionID: 5, startKey: [], endKey: [])), 3, .refreshRegion),
        (.region(.regionNotFound(regionID: 5)), 2, .retryOnLeader(nil, min: .milliseconds(60), max: .milliseconds(100))),
        // At least the policy's backoff, counted.
        (.region(.serverIsBusy(storeID: 2, reason: "busy", backoffMillis: 2000)), 1, .retry(min: .seconds(2), max: .seconds(2), counts: true)),
        (.region(.serverIsBusy(storeID: 2, reason: "busy", backoffMillis: 1)), 3, .retry(min: .milliseconds(120), max: .milliseconds(200), counts: true)),
        (.region(.staleCommand(regionID: 5)), 1, .done),
        (.region(.staleCommand(regionID: 5)), 16, .done),  // done whatever the budget
        (.fileNotDownloaded(storeID: 2, name: "f"), 1, .downloadAgain),
        (.storePanicked(storeID: 2, reason: "apply"), 1, .retryOnLeader(nil, min: .zero, max: .zero)),
        (.region(.timeout(regionID: 5, after: .seconds(1))), 1, .retryOnLeader(nil, min: .milliseconds(30), max: .milliseconds(50))),
        // 40 ms doubling, capped at 10 s.
        (.region(.timeout(regionID: 5, after: .seconds(1))), 15, .retryOnLeader(nil, min: .milliseconds(7500), max: .milliseconds(12500))),
        (.region(.notLeader(regionID: 5, leader: leader)), 16, .fail),  // sixteen attempts in all
        (.rewrite(name: "f", error: .wrongKeyPrefix(key: [1])), 1, .fail),
    ]

    @Test(arguments: ingestCases)
    func ingestFailures(error: ImportError, attempt: Int, expected: Expected) {
        let action = Self.table.action(after: error, in: .ingest, attempt: attempt)
        #expect(expected.matches(action), "\(error.label) at attempt \(attempt): \(action)")
    }
}
