import Foundation
import Testing
@testable import TestSupport
@testable import ExternalStorage
@testable import BackupFormat

/// The restore's log, read as an operator reads it after the fact: JSON lines that survive a
/// kill -9, name each event's region, store, files and attempt, hold what the console's Events
/// panel showed, and rotate by size.
@Suite(.serialized) struct LogTests {
    func makeBackup(_ dir: TemporaryDirectory) throws -> String {
        var o = BackupProducer.Options()
        o.tables = 3
        o.rows = 6_000
        o.fileSize = 64 << 10
        try BackupProducer(storage: LocalStorage(root: dir.file("backup")), options: o).produce()
        return dir.file("backup")
    }

    /// Every line of the files, each parsed as a JSON object.
    func records(_ paths: [String]) throws -> [[String: String]] {
        try paths.flatMap { path in
            let text = String(decoding: try #require(FileManager.default.contents(atPath: path)), as: UTF8.self)
            #expect(text.hasSuffix("\n"), "\(path) ends with a whole line")
            return try text.split(separator: "\n").map { line in
                try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String], "not a JSON line: \(line)")
            }
        }
    }

    @Test func theLogSurvivesAKillAndHoldsEveryEvent() async throws {
        let dir = try TemporaryDirectory()
        let backup = try makeBackup(dir)
        let cluster = dir.file("cluster")
        let args = ["restore", "--headless", "--storage", backup, "--cluster", cluster, "--merge-size", "256K"]
        let process = try startConsole(args + ["--rate", "1M"])
        try await killAfterThreePieces(process, checkpoints: cluster + "/checkpoints")
        let log = cluster + "/logs/restore.log"
        let killed = try records([log])
        // The ingest of the pieces in the checkpoint was logged before the checkpoint was written.
        #expect(killed.contains { $0["event"] == "ingest tried" && $0["error"] == nil }, "the pieces before the kill are in the log")
        #expect(!killed.contains { $0["event"] == "summary" })

        let resumed = try runConsole(args)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let all = try records([log])
        #expect(all.count > killed.count)
        for record in all { #expect(record["time"] != nil && record["level"] != nil && record["event"] != nil, "\(record)") }
        // Each time is ISO 8601 to the millisecond, in UTC, as Foundation reads it, and no later than now.
        let times = try all.map { try Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(try #require($0["time"])) }
        #expect(times.allSatisfy { $0 <= Date() && $0 > Date(timeIntervalSinceNow: -600) }, "\(times.prefix(3))")
        #expect(zip(times, times.dropFirst()).allSatisfy { $0 <= $1.addingTimeInterval(1) }, "the lines are in time order")
        let phases = all.filter { $0["event"] == "phase" }.compactMap { $0["phase"] }
        #expect(phases.contains("download&ingest") && phases.last == "done", "\(phases)")
        let download = try #require(all.first { $0["event"] == "downloaded" })
        for key in ["region", "store", "files", "attempt", "duration_s", "bytes"] { #expect(download[key] != nil, "downloaded has \(key): \(download)") }
        #expect(download["files"]?.hasSuffix(".sst") == true)
        #expect(all.contains { $0["event"] == "ingest" && $0["store"] != nil })
        #expect(all.contains { $0["event"] == "store state" })
        let summary = try #require(all.last)
        #expect(summary["event"] == "summary" && summary["status"] == "ok" && summary["checksum_match"] == "true", "\(summary)")
        // What the Events panel showed (the headless printer prints the same events) is in the log.
        let texts = Set(all.compactMap { $0["text"] })
        let shown = resumed.stderr.split(separator: "\n").compactMap { line -> String? in
            guard let bracket = line.firstIndex(of: "]"), line.hasPrefix("[info]") || line.hasPrefix("[warn]") || line.hasPrefix("[error]") else { return nil }
            return String(line[line.index(bracket, offsetBy: 2)...])
        }
        #expect(!shown.isEmpty)
        for message in shown { #expect(texts.contains(message), "the log has the event '\(message)'") }
    }

    @Test func theLogRotatesBySizeAndKeepsFiveFiles() throws {
        let dir = try TemporaryDirectory()
        let backup = try makeBackup(dir)
        let log = dir.file("elsewhere/restore.log")
        let out = try runConsole(["restore", "--headless", "--storage", backup, "--cluster", dir.file("cluster"), "--merge-size", "128K", "--log-file", log, "--log-max-size", "8K"])
        #expect(out.status == 0, "\(out.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.file("elsewhere")).sorted()
        #expect(names == ["restore.log", "restore.log.1", "restore.log.2", "restore.log.3", "restore.log.4", "restore.log.5"], "\(names)")
        for name in names.dropFirst() {
            let size = try #require(try FileManager.default.attributesOfItem(atPath: dir.file("elsewhere/\(name)"))[.size] as? Int)
            #expect(size >= 8 << 10 && size < 16 << 10, "\(name) is \(size) bytes")
        }
        let newest = try records([log])
        #expect(newest.last?["event"] == "summary")
        _ = try records(names.map { dir.file("elsewhere/\($0)") })
        #expect(!FileManager.default.fileExists(atPath: dir.file("cluster/logs")), "--log-file puts it elsewhere")
    }
}
