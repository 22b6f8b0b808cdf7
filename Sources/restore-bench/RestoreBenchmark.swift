import CRocksDB
import ExternalStorage
import Foundation
import Synchronization
import KeyCodec
import LoopbackServer

/// End-to-end restores through the real `restore-console` binary (headless, as scripts run it):
/// the time of a restore into 3 stores with 3 replicas against copying the backup's files 3 times
/// with `cp`, and the peak RSS of restores of two sizes.
struct RestoreBenchmark {
    let directory: String
    /// The `restore-console` built beside this benchmark, whichever build directory that is.
    var binary: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("restore-console").path
    }

    struct EndToEnd {
        var oursMBps: Double
        var copyMBps: Double
        /// The protocol's own floor: each file's C++ SST copy once per replica, plus one `cp`.
        var floorMBps: Double
        /// That floor with the reads that verify a restore (`floor(of:verified:)`), and with the
        /// read-back alone.
        var verifiedFloorMBps: Double
        var readBackFloorMBps: Double
        var backupBytes: UInt64
    }

    struct Memory {
        var smallMiB: Double
        var largeMiB: Double
    }

    /// Bytes per row of the synthetic tables with one index, both column families (measured).
    private static let bytesPerRow: UInt64 = 250

    func endToEnd(backupBytes: UInt64) throws -> EndToEnd {
        let backup = try makeBackup(bytes: backupBytes, name: "restore")
        defer { try? FileManager.default.removeItem(atPath: backup) }
        let size = try directorySize(backup)

        // Baseline: what a restore must at least do, written as plainly as possible.
        let copyStart = ContinuousClock.now
        for i in 0..<3 {
            try run("/bin/cp", ["-r", backup, "\(directory)/copy-\(i)"])
        }
        try run("/bin/sync", [])
        let copySeconds = RewriteBenchmark.seconds(ContinuousClock.now - copyStart)
        for i in 0..<3 { try? FileManager.default.removeItem(atPath: "\(directory)/copy-\(i)") }

        let floorSeconds = try floor(of: backup)
        let verifiedFloorSeconds = try floor(of: backup, verified: .hashAndReadBack)
        let readBackFloorSeconds = try floor(of: backup, verified: .readBack)

        let start = ContinuousClock.now
        _ = try restore(backup, cluster: "\(directory)/cluster-restore")
        let seconds = RewriteBenchmark.seconds(ContinuousClock.now - start)
        try? FileManager.default.removeItem(atPath: "\(directory)/cluster-restore")
        let mb = Double(size) / 1e6
        return EndToEnd(oursMBps: mb / seconds, copyMBps: mb / copySeconds, floorMBps: mb / floorSeconds, verifiedFloorMBps: mb / verifiedFloorSeconds,
            readBackFloorMBps: mb / readBackFloorSeconds, backupBytes: size)
    }

    /// The least work any restore of the backup into 3 replicas does here: one `cp` of the files
    /// (the download) and, per replica, the C++ read+write copy of each SST (the rewrite), on
    /// every core as the restore runs; then `sync`. Returns its seconds.
    ///
    /// `verified` adds the reads with which a restore here checks what it restored, in the most
    /// favourable order: each replica hashes its file (SHA-256, as every store verifies what it
    /// fetched) before its copy, and one replica's copy is read back with its pairs crc64-summed
    /// (the checksum reads each region once) right after it is written. No restore that verifies
    /// as these do can beat it.
    func floor(of backup: String, verified: Verification = .none) throws -> Double {
        let files = try FileManager.default.contentsOfDirectory(atPath: backup).filter { $0.hasSuffix(".sst") }
        let out = "\(directory)/floor"
        let start = ContinuousClock.now
        try run("/bin/cp", ["-r", backup, out + "-download"])
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: files.count * 3) { i in
            let (file, replica) = (files[i / 3], i % 3)
            let (source, copy) = ("\(backup)/\(file)", "\(out)-\(replica)-\(file)")
            if verified == .hashAndReadBack, SHA256Digest.hash(fileAt: source) == nil {
                failures.withLock { $0.append("\(file): cannot hash it") }
            }
            if let error = RewriteBenchmark.copySST(source, to: copy) {
                failures.withLock { $0.append("\(file): \(error)") }
            } else if verified != .none, replica == 0, let error = Self.readBack(copy) {
                failures.withLock { $0.append("\(file): \(error)") }
            }
        }
        try run("/bin/sync", [])
        let seconds = RewriteBenchmark.seconds(ContinuousClock.now - start)
        try? FileManager.default.removeItem(atPath: out + "-download")
        for file in files { for replica in 0..<3 { unlink("\(out)-\(replica)-\(file)") } }
        if let first = failures.withLock({ $0.first }) { throw BenchError.failed("SST copy failed: \(first)") }
        return seconds
    }

    enum Verification {
        case none, readBack, hashAndReadBack
    }

    /// Reads `path` back through RocksDB with its pairs crc64-summed; nil, or what went wrong.
    private static func readBack(_ path: String) -> String? {
        var err: UnsafeMutablePointer<CChar>?
        var sum: UInt64 = 0
        return crdb_sst_crc64xor(path, &sum, &err) < 0 ? takeRocksDBError(err) : nil
    }

    struct OverTheWire {
        var wireMBps: Double
        var inProcessMBps: Double
        var backupBytes: UInt64
    }

    /// The same restore (without the checksum, which the wire cannot run) in process and over
    /// kvproto's gRPC into `cluster serve` on loopback, alternated; the best of two of each.
    func overTheWire(backupBytes: UInt64) throws -> OverTheWire {
        let backup = try makeBackup(bytes: backupBytes, name: "wire")
        defer { try? FileManager.default.removeItem(atPath: backup) }
        let mb = Double(try directorySize(backup)) / 1e6
        var inProcess: [Double] = [], wire: [Double] = []
        for round in 0..<2 {
            let cluster = "\(directory)/cluster-wire-\(round)"
            var start = ContinuousClock.now
            try run(binary, ["restore", "--storage", backup, "--cluster", cluster, "--headless", "--checksum=false"])
            inProcess.append(mb / RewriteBenchmark.seconds(ContinuousClock.now - start))
            try? FileManager.default.removeItem(atPath: cluster)

            let served = try ServedCluster(binary: binary, directory: cluster, arguments: ["--storage-root", backup])
            start = ContinuousClock.now
            try run(binary, ["restore", "--storage", backup, "--pd", served.pd, "--state-dir", "\(directory)/state-wire-\(round)", "--headless", "--table-id-map", "100:1100,101:1101,102:1102,103:1103"])
            wire.append(mb / RewriteBenchmark.seconds(ContinuousClock.now - start))
            served.stop()
            try? FileManager.default.removeItem(atPath: cluster)
            try? FileManager.default.removeItem(atPath: "\(directory)/state-wire-\(round)")
        }
        return OverTheWire(wireMBps: wire.max() ?? 0, inProcessMBps: inProcess.max() ?? 0, backupBytes: UInt64(mb * 1e6))
    }

    func memory(smallBytes: UInt64, largeBytes: UInt64) throws -> Memory {
        var peaks: [Double] = []
        for bytes in [smallBytes, largeBytes] {
            let backup = try makeBackup(bytes: bytes, name: "memory-\(bytes >> 20)")
            defer { try? FileManager.default.removeItem(atPath: backup) }
            let cluster = "\(directory)/cluster-memory"
            peaks.append(try restore(backup, cluster: cluster))
            try? FileManager.default.removeItem(atPath: cluster)
        }
        return Memory(smallMiB: peaks[0], largeMiB: peaks[1])
    }

    /// The MB/s of a restore of about `bytes` in 64 MiB files, with the checksum.
    func largeFilesMBps(bytes: UInt64) throws -> Double {
        let backup = try makeBackup(bytes: bytes, name: "large")
        defer { try? FileManager.default.removeItem(atPath: backup) }
        let start = ContinuousClock.now
        _ = try restore(backup, cluster: "\(directory)/cluster-large")
        let seconds = RewriteBenchmark.seconds(ContinuousClock.now - start)
        try? FileManager.default.removeItem(atPath: "\(directory)/cluster-large")
        return Double(try directorySize(backup)) / 1e6 / seconds
    }

    /// A backup of about `bytes`: four tables with one index, 64 MiB files.
    private func makeBackup(bytes: UInt64, name: String) throws -> String {
        let path = "\(directory)/backup-\(name)"
        let rows = bytes / Self.bytesPerRow / 4
        try run(binary, ["backup", "--out", path, "--tables", "4", "--rows", "\(rows)", "--indexes", "1", "--file-size", "\(64 << 20)"])
        return path
    }

    /// Runs a headless restore with a checksum; returns its peak RSS in MiB, as the restore
    /// reports it (VmHWM). Not the child's rusage: a child spawned from this large process
    /// inherits the parent's high-water mark through exec.
    private func restore(_ backup: String, cluster: String) throws -> Double {
        try run(binary, ["restore", "--storage", backup, "--cluster", cluster, "--headless", "--json"])
        let output = (try? String(contentsOfFile: directory + "/child.log", encoding: .utf8)) ?? ""
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let peak = json["peak_rss_bytes"] as? Int
        else { throw BenchError.failed("the restore printed no peak_rss_bytes") }
        return Double(peak) / 1_048_576
    }

    /// Runs a program to its end with its output in `child.log` (shown when it fails); `watch`
    /// is called with its pid every 50 ms while it runs.
    func run(_ executable: String, _ arguments: [String], watch: ((pid_t) -> Void)? = nil) throws {
        let log = directory + "/child.log"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else { throw BenchError.failed("cannot start \(executable): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while true {
            let waited = waitpid(pid, &status, watch == nil ? 0 : WNOHANG)
            if waited == pid { break }
            if waited < 0 {
                guard errno == EINTR else { throw BenchError.failed("waitpid: \(String(cString: strerror(errno)))") }
                continue
            }
            watch?(pid)
            usleep(50_000)
        }
        guard status == 0 else {
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw BenchError.failed("\(executable) \(arguments.joined(separator: " ")) ended with status \(status):\n\(output.suffix(2000))")
        }
    }

    func directorySize(_ path: String) throws -> UInt64 {
        var total: UInt64 = 0
        for name in try FileManager.default.subpathsOfDirectory(atPath: path) {
            let attributes = try FileManager.default.attributesOfItem(atPath: "\(path)/\(name)")
            if attributes[.type] as? FileAttributeType == .typeRegular { total += attributes[.size] as? UInt64 ?? 0 }
        }
        return total
    }
}
