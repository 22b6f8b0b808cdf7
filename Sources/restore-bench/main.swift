import ConsoleUI
import EmbeddedCluster
import Foundation

// restore-bench [NAME...]: each benchmark prints `bench NAME value=... baseline=... ratio=... target=...`,
// and a table of all of them at the end. With names, only those run.
let selected = Set(CommandLine.arguments.dropFirst())
func wanted(_ name: String) -> Bool { selected.isEmpty || selected.contains(name) }

let scratch = (ProcessInfo.processInfo.environment["BENCH_DIR"] ?? NSTemporaryDirectory()) + "/restore-bench-\(UUID().uuidString)"
try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: scratch) }
// `make bench` runs from the repository root, where the test servers' scripts are.
let repositoryRoot = FileManager.default.currentDirectoryPath
var report = BenchReport()

if wanted("rewrite") {
    let rewrite = try RewriteBenchmark.run(directory: scratch, targetBytes: 256 << 20)
    report.add("rewrite", value: rewrite.rewriteMBps, baseline: rewrite.copyMBps, unit: "MB/s", target: ">=0.8", met: rewrite.rewriteMBps / rewrite.copyMBps >= 0.8,
               note: String(format: "%.0f MiB SST, one core", Double(rewrite.fileBytes) / 1_048_576))
}
if wanted("download") {
    let download = try DownloadBenchmark.run(directory: scratch, files: 8, fileSize: 128 << 20, repositoryRoot: repositoryRoot)
    report.add("download", value: download.ours, baseline: download.curl, unit: "MB/s", target: ">=0.9", met: download.ours / download.curl >= 0.9,
               note: String(format: "%.0f MiB over loopback HTTP, verified", Double(download.bytes) / 1_048_576))
}
if wanted("frame") {
    let frame = FrameBenchmark.run(regions: 100_000, frames: 1_000)
    report.add("frame-median", value: frame.median, unit: "ms", target: "<=2ms", met: frame.median <= 2, note: "100,000 regions")
    report.add("frame-p99", value: frame.p99, unit: "ms", target: "<=5ms", met: frame.p99 <= 5, note: "100,000 regions")
    let sort = FrameBenchmark.sortTime(regions: 100_000)
    report.add("frame-resort", value: sort, unit: "ms", target: "off-the-UI-thread", met: true, note: "background thread")
}
if wanted("live-frame") {
    let live = try await LiveFrameBenchmark.run(directory: scratch, frames: 1_000)
    report.add("live-frame-median", value: live.median, unit: "ms", target: "<=2ms", met: live.median <= 2, note: "\(live.regions) regions of a restore running beside it")
    report.add("live-frame-p99", value: live.p99, unit: "ms", target: "<=5ms", met: live.p99 <= 5, note: "\(live.regions) regions of a restore running beside it")
    report.add("live-frame-cpu", value: live.cpuMedian, unit: "ms", target: "-", met: true,
               note: String(format: "the UI thread's CPU per frame, median (p99 %.3f ms; taking the snapshot, p99 %.3f ms); the rest of a frame is waiting", live.cpuP99, live.snapshotP99))
    report.add("live-key", value: live.slowestKey, unit: "ms", target: "<=100ms", met: live.slowestKey <= 100, note: "slowest key press to its frame")
}
if wanted("batch-download") {
    let b = try await BatchDownloadBenchmark.run(directory: scratch)
    report.add("batch-download", value: Double(b.files) / b.batchSeconds, baseline: Double(b.files) / b.singleSeconds, unit: "files/s", target: "-", met: true,
               note: String(format: "one region's %d files of 16 KiB onto 3 peers and one MultiIngest: a BatchDownload per column family vs a Download a file (%.2f s vs %.2f s)", b.files, b.batchSeconds, b.singleSeconds))
}
if wanted("wire") {
    let w = try RestoreBenchmark(directory: scratch).overTheWire(backupBytes: 512 << 20)
    report.add("wire", value: w.wireMBps, baseline: w.inProcessMBps, unit: "MB/s", target: ">=0.8", met: w.wireMBps / w.inProcessMBps >= 0.8,
               note: String(format: "%.2f GiB backup over gRPC on loopback vs in process, no checksum", Double(w.backupBytes) / 1_073_741_824))
}
if wanted("wire-overhead") {
    // About 20,000 regions; BR's published scatter rate is about 1,500 regions/s across 15 TiKVs.
    let w = try await RestoreBenchmark(directory: scratch).wireOverhead(tables: 5)
    report.add("wire-overhead", value: w.regionsPerSecond, baseline: 1_500, unit: "regions/s", target: ">=2000", met: w.regionsPerSecond >= 2_000,
               note: String(format: "%d regions, %d files, against a cluster that answers at once; split and scatter %.1f s of %.1f s; vs BR's published scatter rate", w.regions, w.files, w.splitSeconds, w.seconds))
    report.add("wire-overhead-calls", value: Double(w.calls.values.reduce(0, +)) / Double(max(1, w.regions)), unit: "calls", target: "-", met: true, note: "calls per region: " + w.callsPerRegion)
    report.add("wire-overhead-cpu", value: w.cpuPerRegionMs, unit: "ms", target: "-", met: true, note: "the client's CPU per region (user + system), all of it")
    // The transport's own ceiling here: unary calls a second, client and server on these cores,
    // over the calls a region needs at the least (a Download per file per peer, or a
    // BatchDownload per column family per peer, a MultiIngest, a GetOperator).
    let floorCalls = try await RestoreBenchmark(directory: scratch).callFloor(seconds: 10)
    let essential = ["Download", "BatchDownload", "MultiIngest", "GetOperator"].reduce(0) { $0 + (w.calls[$1] ?? 0) }
    let needed = Double(essential) / Double(max(1, w.regions))
    report.add("wire-overhead-floor", value: w.regionsPerSecond, baseline: floorCalls / needed, unit: "regions/s", target: "-", met: true,
               note: String(format: "vs the transport's ceiling: %.0f empty unary calls/s (128 tasks, 3 connections, client and server on these 2 cores) over %.2f calls a region needs", floorCalls, needed))
}
if wanted("restore") || wanted("memory") {
    let restore = RestoreBenchmark(directory: scratch)
    if wanted("restore") {
        let r = try restore.endToEnd(backupBytes: 2 << 30)
        report.add("restore", value: r.oursMBps, baseline: r.copyMBps, unit: "MB/s", target: ">=0.5", met: r.oursMBps / r.copyMBps >= 0.5,
                   note: String(format: "%.2f GiB backup, 3 stores x 3 replicas, vs cp x3", Double(r.backupBytes) / 1_073_741_824))
        report.add("restore-floor", value: r.oursMBps, baseline: r.floorMBps, unit: "MB/s", target: ">=0.8", met: r.oursMBps / r.floorMBps >= 0.8,
                   note: "the same restore vs one cp plus the C++ SST copy per replica, on both cores")
        let bound = r.verifiedFloorMBps / r.floorMBps
        report.add("restore-verified-floor", value: r.oursMBps, baseline: r.verifiedFloorMBps, unit: "MB/s", target: "-", met: true,
                   note: String(format: "vs that floor with each replica's SHA-256 and one crc64 read-back of the copies: a restore that verifies reaches %.2f of restore-floor at the most (%.2f with the read-back alone)", bound, r.readBackFloorMBps / r.floorMBps))
    }
    if wanted("memory") {
        let m = try restore.memory(smallBytes: 1 << 30, largeBytes: 4 << 30)
        let growth = m.largeMiB / m.smallMiB - 1
        report.add("memory", value: m.largeMiB, baseline: m.smallMiB, unit: "MiB", target: "<=256MiB,growth<=20%", met: m.largeMiB <= 256 && growth <= 0.2,
                   note: String(format: "peak RSS, 4 GiB vs 1 GiB restore, growth %+.0f%%", growth * 100))
    }
}
if wanted("files") || wanted("regions") {
    let bench = RestoreBenchmark(directory: scratch)
    if wanted("files") {
        // About 100,000 files: 16 tables of 8 KiB files and one of 64 MiB files.
        let sizes = Array(repeating: "8K", count: 16) + ["64M"]
        let small = try await bench.scale(
            name: "files", backupArguments: ["--tables", "17", "--rows", "100000", "--file-size", sizes.joined(separator: ",")],
            restoreArguments: [], openFiles: 1024)
        let large = try bench.largeFilesMBps(bytes: small.bytes)
        report.add("files", value: small.mbps, baseline: large, unit: "MB/s", target: ">=0.5", met: small.checksumMatched && small.mbps / large >= 0.5,
                   note: String(format: "%d files, %.2f GiB, ulimit -Sn 1024, checksum %@, vs the same bytes in 64 MiB files", small.files, Double(small.bytes) / 1_073_741_824, small.checksumMatched ? "matched" : "FAILED"))
        report.add("files-rss", value: small.peakRSSMiB, unit: "MiB", target: "<=256MiB", met: small.peakRSSMiB <= 256, note: "peak RSS of that restore")
        let hard = OpenFileBudget.hardLimit
        report.add("files-open", value: Double(small.peakOpenFiles), unit: "fds", target: "<=budget", met: small.peakOpenFiles <= hard,
                   note: "peak open descriptors, sampled every 50 ms; started under a soft limit of 1024, raised to the hard limit (\(hard)) and budgeted")
        let tables = small.tablesPerStore.max() ?? 0
        report.add("files-ssts", value: Double(tables), unit: "SSTs", target: "bounded", met: tables < small.files / 10,
                   note: String(format: "SSTs per store (%@); the cluster reopens in %.2f s; backup written in %.0f s", small.tablesPerStore.map(String.init).joined(separator: "/"), small.reopenSeconds, small.produceSeconds))
    }
    if wanted("regions") {
        // One region per file set: 20,000 or more regions.
        let r = try await bench.scale(
            name: "regions", backupArguments: ["--tables", "6", "--rows", "100000", "--file-size", "8K"],
            restoreArguments: ["--merge-size", "1"], openFiles: 1024, floor: true)
        report.add("regions", value: r.regionsPerSecond, unit: "regions/s", target: ">=300", met: r.checksumMatched && r.regionsPerSecond >= 300,
                   note: String(format: "%d regions, %d files, checksum %@, split and scatter %.1f s of %.1f s", r.regions, r.files, r.checksumMatched ? "matched" : "FAILED", r.splitSeconds, r.restoreSeconds))
        let floor = Double(r.regions) / r.floorSeconds
        report.add("regions-floor", value: r.regionsPerSecond, baseline: floor, unit: "regions/s", target: "-", met: true,
                   note: String(format: "vs the same backup's files copied in C++ and ingested into 3 RocksDBs, 128 files an ingest, 8 threads (%.1f s): the least work a restore does here", r.floorSeconds))
        let perRegion = (restore: r.cpuSeconds * 1000 / Double(r.regions), floor: r.floorCPUSeconds * 1000 / Double(r.regions))
        report.add("regions-cpu", value: perRegion.restore, baseline: perRegion.floor, unit: "ms", target: "<7ms", met: perRegion.restore < 7,
                   note: String(format: "user + system CPU a region (3 replicas), vs the floor's (%.1f s of CPU; the restore %.1f s)", r.floorCPUSeconds, r.cpuSeconds))
        report.add("regions-rss", value: r.peakRSSMiB, unit: "MiB", target: "<=256MiB", met: r.peakRSSMiB <= 256, note: "peak RSS of that restore")
    }
}
report.printTable()
