import Foundation
import EmbeddedCluster

/// Restores in the shapes of real backups: many small files, and many regions. Each runs the
/// real binary headless under a soft open-files limit, and reads what the restore reports (its
/// JSON summary), what it held open (sampled from /proc), and what it left in the stores.
extension RestoreBenchmark {
    struct Scale {
        var files = 0
        var regions = 0
        var bytes: UInt64 = 0
        var produceSeconds = 0.0
        var restoreSeconds = 0.0
        var splitSeconds = 0.0
        var peakRSSMiB = 0.0
        var peakOpenFiles = 0
        var tablesPerStore: [Int] = []
        var reopenSeconds = 0.0
        var checksumMatched = false
        /// The restore's user and system CPU.
        var cpuSeconds = 0.0
        /// `ingestFloor`'s seconds and CPU (its threads, `cp` and `sync`) for the same backup,
        /// when asked for.
        var floorSeconds = 0.0
        var floorCPUSeconds = 0.0

        var mbps: Double { Double(bytes) / 1e6 / restoreSeconds }
        var regionsPerSecond: Double { Double(regions) / restoreSeconds }
    }

    /// Writes a backup with `backupArguments`, restores it with `restoreArguments` under a soft
    /// limit of `openFiles` descriptors, then reopens the cluster; with `floor`, then measures
    /// `ingestFloor` of the same backup.
    func scale(name: String, backupArguments: [String], restoreArguments: [String], openFiles: Int, floor: Bool = false) async throws -> Scale {
        let backup = "\(directory)/backup-\(name)"
        let cluster = "\(directory)/cluster-\(name)"
        defer {
            try? FileManager.default.removeItem(atPath: backup)
            try? FileManager.default.removeItem(atPath: cluster)
        }
        var result = Scale()
        var start = ContinuousClock.now
        try run(binary, ["backup", "--out", backup] + backupArguments)
        result.produceSeconds = RewriteBenchmark.seconds(ContinuousClock.now - start)
        result.bytes = try directorySize(backup)

        start = ContinuousClock.now
        let cpuBefore = Self.childrenCPU()
        let restore = [binary, "restore", "--storage", backup, "--cluster", cluster, "--headless", "--json"] + restoreArguments
        try run("/bin/sh", ["-c", "ulimit -Sn \(openFiles) && exec \"$@\"", "sh"] + restore) { pid in
            let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
            result.peakOpenFiles = max(result.peakOpenFiles, open)
        }
        result.restoreSeconds = RewriteBenchmark.seconds(ContinuousClock.now - start)
        result.cpuSeconds = Self.childrenCPU() - cpuBefore
        let output = (try? String(contentsOfFile: directory + "/child.log", encoding: .utf8)) ?? ""
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else { throw BenchError.failed("the restore printed no summary") }
        result.files = json["files"] as? Int ?? 0
        result.regions = json["regions_total"] as? Int ?? 0
        result.splitSeconds = json["split_s"] as? Double ?? 0
        result.peakRSSMiB = Double(json["peak_rss_bytes"] as? Int ?? 0) / 1_048_576
        result.checksumMatched = json["checksum_match"] as? Bool ?? false

        let stores = try FileManager.default.contentsOfDirectory(atPath: cluster + "/stores").sorted()
        result.tablesPerStore = try stores.map { id in
            try FileManager.default.contentsOfDirectory(atPath: "\(cluster)/stores/\(id)/db").filter { $0.hasSuffix(".sst") }.count
        }
        start = ContinuousClock.now
        let reopened = try await Cluster.open(directory: cluster)
        result.reopenSeconds = RewriteBenchmark.seconds(ContinuousClock.now - start)
        await reopened.close()
        if floor {
            try? FileManager.default.removeItem(atPath: cluster)
            let cpuBefore = Self.ownCPU() + Self.childrenCPU()
            result.floorSeconds = try ingestFloor(of: backup)
            result.floorCPUSeconds = Self.ownCPU() + Self.childrenCPU() - cpuBefore
        }
        return result
    }
}
