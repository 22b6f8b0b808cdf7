import Foundation

/// Human-readable sizes and rates, in binary units, as the console and the summaries print them.
public enum ByteFormat {
    public static func size(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: value >= 100 ? "%.0f %@" : "%.1f %@", value, units[unit])
    }

    public static func rate(_ bytesPerSecond: Double) -> String { size(UInt64(max(0, bytesPerSecond))) + "/s" }
}
