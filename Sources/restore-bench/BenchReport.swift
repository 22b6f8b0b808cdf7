import Foundation

/// The benchmark lines as they are measured, and the table that closes the run.
struct BenchReport {
    struct Line {
        var name: String
        var value: String
        var baseline: String
        var ratio: String
        var target: String
        var met: Bool
        var note: String
    }

    private(set) var lines: [Line] = []

    mutating func add(_ name: String, value: Double, baseline: Double? = nil, unit: String, target: String, met: Bool, note: String) {
        let format = unit == "ms" ? "%.3f" : "%.1f"
        let line = Line(
            name: name, value: String(format: format, value) + unit, baseline: baseline.map { String(format: format, $0) + unit } ?? "none",
            ratio: baseline.map { String(format: "%.2f", value / $0) } ?? "-", target: target, met: met, note: note)
        lines.append(line)
        print("bench \(line.name) value=\(line.value) baseline=\(line.baseline) ratio=\(line.ratio) target=\(line.target) (\(line.note))")
        fflush(nil)  // every stream: the lines show up as they are measured, also through a pipe
    }

    func printTable() {
        let header = ["benchmark", "value", "baseline", "ratio", "target", "met"]
        let rows = lines.map { [$0.name, $0.value, $0.baseline, $0.ratio, $0.target, $0.met ? "yes" : "NO"] }
        let widths = header.indices.map { c in ([header] + rows).map { $0[c].count }.max()! }
        func render(_ row: [String]) -> String {
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        print("")
        print(render(header))
        print(render(widths.map { String(repeating: "-", count: $0) }))
        rows.forEach { print(render($0)) }
    }
}

/// The value below which the fraction `p` of `values` lies (0.5: the median).
func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}
