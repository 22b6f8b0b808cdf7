import ConsoleUI
import Foundation

// restore-bench: each benchmark prints `bench NAME value=... baseline=... ratio=... target=...`.
let scratch = NSTemporaryDirectory() + "restore-bench-\(UUID().uuidString)"
try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: scratch) }

let rewrite = try RewriteBenchmark.run(directory: scratch, targetBytes: 256 << 20)
print(String(format: "bench rewrite value=%.1fMB/s baseline=%.1fMB/s ratio=%.2f target=>=0.8 (%.0f MiB SST, one core)",
             rewrite.rewriteMBps, rewrite.copyMBps, rewrite.rewriteMBps / rewrite.copyMBps, Double(rewrite.fileBytes) / 1_048_576))

// `make bench` runs from the repository root, where the test servers' scripts are.
let repositoryRoot = FileManager.default.currentDirectoryPath
let download = try DownloadBenchmark.run(directory: scratch, files: 8, fileSize: 128 << 20, repositoryRoot: repositoryRoot)
print(String(format: "bench download value=%.0fMB/s baseline=%.0fMB/s ratio=%.2f target=>=0.9 (%.0f MiB over loopback HTTP, verified)",
             download.ours, download.curl, download.ours / download.curl, Double(download.bytes) / 1_048_576))

let frame = FrameBenchmark.run(regions: 100_000, frames: 1_000)
print(String(format: "bench frame-median value=%.3fms baseline=none ratio=- target=<=2ms", frame.median))
print(String(format: "bench frame-p99 value=%.3fms baseline=none ratio=- target=<=5ms", frame.p99))
print(String(format: "bench frame-resort value=%.1fms baseline=none ratio=- target=off-the-UI-thread", FrameBenchmark.sortTime(regions: 100_000)))
