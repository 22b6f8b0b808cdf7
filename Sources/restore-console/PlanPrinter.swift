import Foundation
import KeyCodec
import RestoreDriver

/// A dry run's plan, as text for people or JSON for scripts.
enum PlanPrinter {
    /// Split keys shown in the text; the JSON lists every one.
    static let shownSplitKeys = 10

    static func json(_ preview: RestorePreview) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return ((try? encoder.encode(preview)).map { String(decoding: $0, as: UTF8.self) } ?? "{}") + "\n"
    }

    static func text(_ p: RestorePreview) -> String {
        var out = "Dry run: nothing was written.\n\n"
        func line(_ s: String = "") { out += s + "\n" }
        let cfs = p.files.sorted { $0.key > $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        line("Backup    \(p.source): \(p.kind), \(cfs) files, \(ByteFormat.size(p.bytes)), \(p.kvs) kvs")
        if !p.selection.isEmpty { line("Selected  \(p.selection.joined(separator: "; "))") }
        line("Cluster   \(p.cluster): \(p.stores.count) stores, \(p.replicas) replicas\(p.resume ? "; resuming an earlier run of this restore" : "")")

        if !p.tables.isEmpty {
            line()
            let rows = p.tables.map { t in
                [t.name, ids(t.oldIDs), ids(t.newIDs), cf(t, "write"), cf(t, "default"), "\(t.kvs)"]
            }
            out += table(header: ["table", "old id", "new id", "write files", "default files", "kvs"], rows: rows)
        }

        line()
        line("Rewrite rules (\(p.rewriteMode) mode)")
        for rule in p.rules { line("  \(rule)") }

        line()
        line("Regions   \(p.ranges) ranges to restore; the cluster has \(p.regionsNow) region\(p.regionsNow == 1 ? "" : "s"); \(p.newSplitKeys.count) split keys are new")
        for hex in p.newSplitKeys.prefix(shownSplitKeys) { line("  split at \(KeyDescription([UInt8](hex: hex) ?? []).summary)") }
        if p.newSplitKeys.count > shownSplitKeys { line("  and \(p.newSplitKeys.count - shownSplitKeys) more (--json lists every one)") }

        line()
        line("Stores    each receives its regions' replicas (\(p.replicas) per region, spread by scatter)")
        out += table(header: ["store", "state", "receives", "free", "address"], rows: p.stores.map { s in
            ["\(s.id)", s.state, ByteFormat.size(s.receives), s.available.map(ByteFormat.size) ?? "unknown", s.address]
        })

        line()
        line("Checks")
        for check in p.checks { line("  \(mark(check.status)) \(check.name): \(check.message)") }
        line()
        line(p.passed ? "Every check passed: the same command without --dry-run restores." : "A check failed: a restore would stop before writing anything (exit code 2).")
        return out
    }

    private static func ids(_ ids: [Int64]) -> String { ids.map(String.init).joined(separator: ",") }

    private static func cf(_ t: RestorePreview.Table, _ name: String) -> String {
        guard let files = t.files[name] else { return "-" }
        return "\(files) (\(ByteFormat.size(t.bytes[name] ?? 0)))"
    }

    private static func mark(_ status: RestorePreview.Check.Status) -> String {
        switch status {
        case .passed: "ok     "
        case .failed: "FAILED "
        case .skipped: "skipped"
        case .unknown: "unknown"
        }
    }

    /// Left-aligned columns, two spaces apart, indented by two.
    private static func table(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { i in all.map { $0[i].count }.max() ?? 0 }
        return all.map { row in
            "  " + row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
