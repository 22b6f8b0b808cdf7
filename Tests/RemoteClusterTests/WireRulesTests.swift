import Foundation
import Testing
@testable import TestSupport
@testable import ExternalStorage
@testable import KVWire
@testable import RemoteCluster

/// Rules that TiKV and BR hold a client to, checked on what the client would send.
@Suite struct WireRulesTests {
    /// TiKV refuses a Raft entry over 8 MiB: a SplitRegion carries at most 6 MiB of keys and
    /// 10,240 of them, as BR sends them, and every key is sent once, in order.
    @Test(arguments: [(4_000, 4 << 10, 3), (25_000, 10, 3)])
    func splitKeysGoInBatchesBRSends(count: Int, size: Int, batches expected: Int) {
        let keys = (0..<count).map { [UInt8](repeating: 0x74, count: size - 4) + withUnsafeBytes(of: UInt32($0).bigEndian, Array.init) }
        var rest = keys
        var batches: [[[UInt8]]] = []
        while !rest.isEmpty {
            let (batch, later) = SplitBatch.first(of: rest)
            batches.append(batch)
            rest = later
        }
        #expect(batches.allSatisfy { $0.reduce(0) { $0 + $1.count } <= 6 << 20 && $0.count <= 10_240 })
        #expect(Array(batches.joined()) == keys)
        #expect(batches.count == expected)
    }

    /// Each store reads a local backend on its own machine: the path it gets is absolute.
    @Test func aLocalBackupReachesTheStoresAsAnAbsolutePath() throws {
        let backend = try WireStorage.backend(for: LocalStorage(root: "relative/bk"))
        #expect(backend.local.path == FileManager.default.currentDirectoryPath + "/relative/bk")
    }
}
