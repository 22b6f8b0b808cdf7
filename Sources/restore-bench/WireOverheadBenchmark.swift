import Foundation

/// The client alone over the wire: `restore --pd` against an `InstantCluster` in this process,
/// which answers every call at once and does no data work, so that the time and the CPU left are
/// the client's (its split, scatter, Downloads to every peer, MultiIngests and checkpoint).
extension RestoreBenchmark {
    struct WireOverhead {
        var regions = 0
        var files = 0
        var seconds = 0.0
        var splitSeconds = 0.0
        /// The client process's user and system CPU.
        var clientCPUSeconds = 0.0
        /// Calls the cluster answered, by method.
        var calls: [String: Int] = [:]

        var regionsPerSecond: Double { Double(regions) / seconds }
        var cpuPerRegionMs: Double { clientCPUSeconds * 1_000 / Double(max(1, regions)) }
        /// Calls per region, by method, the most first.
        var callsPerRegion: String {
            calls.sorted { $0.value > $1.value }.map { String(format: "%@ %.2f", $0.key, Double($0.value) / Double(max(1, regions))) }.joined(separator: ", ")
        }
    }

    /// A backup of `tables` tables in 8 KiB files, one region per file set.
    func wireOverhead(tables: Int) async throws -> WireOverhead {
        let backup = "\(directory)/backup-wire-overhead"
        defer {
            try? FileManager.default.removeItem(atPath: backup)
            try? FileManager.default.removeItem(atPath: "\(directory)/state-wire-overhead")
        }
        try run(binary, ["backup", "--out", backup, "--tables", "\(tables)", "--rows", "100000", "--file-size", "8K"])
        let cluster = InstantCluster()
        let pd = try await cluster.serve()
        let ids = (0..<tables).map { "\(100 + $0):\(1100 + $0)" }.joined(separator: ",")
        let before = Self.childrenCPU()
        let start = ContinuousClock.now
        // The schedulers stay: the instant cluster serves no HTTP API, and pausing is 7 calls. No
        // checksum: it holds no data to read (and gives no timestamp), and a checksum that cannot
        // be read ends a restore in failure.
        try run(binary, [
            "restore", "--storage", backup, "--pd", pd.description, "--state-dir", "\(directory)/state-wire-overhead", "--headless", "--json",
            "--merge-size", "1", "--keep-schedulers", "--checksum=false", "--table-id-map", ids,
        ])
        var result = WireOverhead()
        result.seconds = RewriteBenchmark.seconds(ContinuousClock.now - start)
        result.clientCPUSeconds = Self.childrenCPU() - before
        result.calls = cluster.calls.withLock { $0 }
        let output = (try? String(contentsOfFile: directory + "/child.log", encoding: .utf8)) ?? ""
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], json["status"] as? String == "ok"
        else { throw BenchError.failed("the restore did not end ok:\n\(output.suffix(2000))") }
        result.regions = json["regions_total"] as? Int ?? 0
        result.files = json["files"] as? Int ?? 0
        result.splitSeconds = json["split_s"] as? Double ?? 0
        return result
    }

    /// User and system CPU of the children this process has waited for, or of this process.
    static func childrenCPU() -> Double { cpu(RUSAGE_CHILDREN) }
    static func ownCPU() -> Double { cpu(RUSAGE_SELF) }

    private static func cpu(_ who: __rusage_who) -> Double {
        var usage = rusage()
        getrusage(who.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}

import GRPCCore
import GRPCNIOTransportHTTP2
import KVProto
import KVProtoGRPC

extension RestoreBenchmark {
    /// The most unary calls a second that gRPC carries on this machine, client and server
    /// together: empty MultiIngests to an `InstantCluster` from `width` tasks over one connection
    /// per store, as the client holds them, for `seconds`. No client of this transport makes
    /// calls faster, so calls per region over this is a floor on the time per region.
    func callFloor(seconds: Double, width: Int = 128) async throws -> Double {
        let cluster = InstantCluster()
        let address = try await cluster.serve()
        var clients: [GRPCClient<HTTP2ClientTransport.Posix>] = []
        var runners: [Task<Void, Never>] = []
        for _ in InstantCluster.storeIDs {
            let transport = try HTTP2ClientTransport.Posix(target: .ipv4(address: address.host, port: address.port), transportSecurity: .plaintext)
            let client = GRPCClient(transport: transport)
            clients.append(client)
            runners.append(Task { try? await client.runConnections() })
        }
        let deadline = ContinuousClock.now + .seconds(seconds)
        let start = ContinuousClock.now
        let calls = await withTaskGroup(of: Int.self) { group in
            for i in 0..<width {
                let client = ImportSstpb_ImportSST.Client(wrapping: clients[i % clients.count])
                group.addTask {
                    var made = 0
                    while ContinuousClock.now < deadline {
                        if (try? await client.multiIngest(ImportSstpb_MultiIngestRequest())) != nil { made += 1 }
                    }
                    return made
                }
            }
            return await group.reduce(0, +)
        }
        let elapsed = RewriteBenchmark.seconds(ContinuousClock.now - start)
        for client in clients { client.beginGracefulShutdown() }
        for runner in runners { await runner.value }
        return Double(calls) / elapsed
    }
}
