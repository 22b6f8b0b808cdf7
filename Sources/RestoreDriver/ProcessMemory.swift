import Foundation
import KeyCodec

/// This process's memory as the kernel counts it (`/proc/self/status`): resident now, and the
/// peak since the process started. Zero where there is no procfs.
public struct ProcessMemory: Sendable, Equatable {
    public var residentBytes: UInt64
    public var peakResidentBytes: UInt64

    public static func current() -> ProcessMemory {
        var memory = ProcessMemory(residentBytes: 0, peakResidentBytes: 0)
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return memory }
        for line in status.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, let kilobytes = UInt64(fields[1]) else { continue }
            switch fields[0] {
            case "VmRSS:": memory.residentBytes = kilobytes * 1024
            case "VmHWM:": memory.peakResidentBytes = kilobytes * 1024
            default: break
            }
        }
        return memory
    }
}
