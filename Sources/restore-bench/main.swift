import Foundation

// restore-bench: each benchmark prints `bench NAME value=... baseline=... ratio=... target=...`.
let frame = FrameBenchmark.run(regions: 100_000, frames: 1_000)
print(String(format: "bench frame-median value=%.3fms baseline=none ratio=- target=<=2ms", frame.median))
print(String(format: "bench frame-p99 value=%.3fms baseline=none ratio=- target=<=5ms", frame.p99))
print(String(format: "bench frame-resort value=%.1fms baseline=none ratio=- target=off-the-UI-thread", FrameBenchmark.sortTime(regions: 100_000)))
