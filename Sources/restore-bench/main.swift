import ConsoleUI
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
if wanted("wire") {
    let w = try RestoreBenchmark(directory: scratch, repositoryRoot: repositoryRoot).overTheWire(backupBytes: 512 << 20)
    report.add("wire", value: w.wireMBps, baseline: w.inProcessMBps, unit: "MB/s", target: ">=0.8", met: w.wireMBps / w.inProcessMBps >= 0.8,
               note: String(format: "%.2f GiB backup over gRPC on loopback vs in process, no checksum", Double(w.backupBytes) / 1_073_741_824))
}
if wanted("restore") || wanted("memory") {
    let restore = RestoreBenchmark(directory: scratch, repositoryRoot: repositoryRoot)
    if wanted("restore") {
        let r = try restore.endToEnd(backupBytes: 2 << 30)
        report.add("restore", value: r.oursMBps, baseline: r.copyMBps, unit: "MB/s", target: ">=0.5", met: r.oursMBps / r.copyMBps >= 0.5,
                   note: String(format: "%.2f GiB backup, 3 stores x 3 replicas, vs cp x3", Double(r.backupBytes) / 1_073_741_824))
    }
    if wanted("memory") {
        let m = try restore.memory(smallBytes: 1 << 30, largeBytes: 4 << 30)
        let growth = m.largeMiB / m.smallMiB - 1
        report.add("memory", value: m.largeMiB, baseline: m.smallMiB, unit: "MiB", target: "<=256MiB,growth<=20%", met: m.largeMiB <= 256 && growth <= 0.2,
                   note: String(format: "peak RSS, 4 GiB vs 1 GiB restore, growth %+.0f%%", growth * 100))
    }
}
report.printTable()
