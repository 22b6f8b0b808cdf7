import ArgumentParser
import Foundation
import KeyCodec
import ClusterAPI
import EmbeddedCluster

struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a cluster directory: its stores (state, bytes) and regions (range, epoch, peers, leader)."
    )

    @Option(name: .long, help: "The cluster directory.")
    var cluster: String

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    struct StoreSummary: Codable {
        var id: UInt64
        var state: String
        var bytes: UInt64
    }

    struct RegionSummary: Codable {
        var id: UInt64
        var start: String
        var end: String
        var epoch: RegionEpoch
        var peers: [PeerMeta]
        var leaderStore: UInt64?
        var logs: [PeerLog]
    }

    /// A replica's Raft log: its entries run from `first` to `last`; those through `truncated` are gone.
    struct PeerLog: Codable {
        var store: UInt64
        var first: UInt64
        var last: UInt64
        var truncated: UInt64
        var applied: UInt64
    }

    struct Report: Codable {
        var stores: [StoreSummary]
        var regions: [RegionSummary]
    }

    func run() async throws {
        let opened: Cluster
        do { opened = try await Cluster.open(directory: cluster) } catch { throw StartFailure(error.description) }
        var regions: [RegionSummary] = []
        for region in await opened.pd.allRegions {
            let leader = try? await opened.pd.waitForLeader(region.id, timeout: .seconds(2))
            let logs = await opened.pd.peerStatus(of: region.id).map {
                PeerLog(store: $0.peer.storeID, first: $0.truncatedIndex + 1, last: $0.lastIndex, truncated: $0.truncatedIndex, applied: $0.appliedIndex)
            }
            regions.append(RegionSummary(
                id: region.id, start: region.startKey.hexString, end: region.endKey.hexString, epoch: region.epoch, peers: region.peers,
                leaderStore: leader?.storeID, logs: logs))
        }
        let stores = opened.stores.values.sorted { $0.id < $1.id }.map { StoreSummary(id: $0.id, state: $0.state.description, bytes: $0.usedBytes()) }
        await opened.close()
        let report = Report(stores: stores, regions: regions)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        print("stores")
        for s in stores { print("  s\(s.id)  \(s.state)  \(ByteFormat.size(s.bytes))") }
        print("regions (\(regions.count))")
        for r in regions {
            let peers = r.peers.map { "s\($0.storeID)\($0.storeID == r.leaderStore ? "*" : "")" }.joined(separator: " ")
            print("  r\(r.id)  [\(r.start.isEmpty ? "-inf" : r.start), \(r.end.isEmpty ? "+inf" : r.end))  epoch \(r.epoch)  peers \(peers)  leader \(r.leaderStore.map { "s\($0)" } ?? "none")")
            for log in r.logs {
                print("    log s\(log.store)  entries \(log.first)...\(log.last)  truncated \(log.truncated)  applied \(log.applied)")
            }
        }
    }
}
