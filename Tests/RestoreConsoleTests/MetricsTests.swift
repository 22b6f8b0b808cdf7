import Foundation
import Testing
@testable import TestSupport
@testable import ExternalStorage
@testable import BackupFormat
import LoopbackServer

/// `--metrics-addr` as Prometheus scrapes it: `/metrics` read during a restore and after it (the
/// restore lingers for a last scrape), parsed by prometheus_client's own parser.
@Suite(.serialized) struct MetricsTests {
    /// Every sample of one scrape, keyed `name{label=value,...}`; nil when the endpoint is not up.
    func scrape(_ port: Int) throws -> [String: Any]? {
        let out = try runProgram("python3", ["\(repositoryRoot)/scripts/test-servers/scrape_metrics.py", "http://127.0.0.1:\(port)/metrics"])
        guard out.status == 0 else { return nil }
        return try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any]
    }

    /// A backup of small files in `dir/backup`.
    func makeBackup(_ dir: TemporaryDirectory, tables: Int, rows: Int) throws {
        var o = BackupProducer.Options()
        o.tables = tables
        o.rows = rows
        o.fileSize = 64 << 10
        try BackupProducer(storage: LocalStorage(root: dir.file("backup")), options: o).produce()
    }

    func value(_ samples: [String: Any], _ key: String) -> Double { (samples[key] as? NSNumber)?.doubleValue ?? -1 }

    /// The counters move while the restore runs, and at its end they agree with the summary; the
    /// import service's own metrics (TiKV's names) count every download and ingest.
    @Test func aScrapeDuringARestoreMovesAndAgreesWithTheSummary() async throws {
        let dir = try TemporaryDirectory()
        try makeBackup(dir, tables: 3, rows: 4_000)
        let port = try freePort()
        let process = try startConsole([
            "restore", "--headless", "--json", "--storage", dir.file("backup"), "--cluster", dir.file("cluster"), "--merge-size", "128K",
            "--rate", "1M", "--metrics-addr", "127.0.0.1:\(port)", "--metrics-linger", "60",
        ], stdout: dir.file("summary.json"))
        defer { process.terminate() }

        // Mid-restore: some bytes in, not all.
        var during: [String: Any] = [:]
        try await waitUntil(timeout: .seconds(60)) {
            guard let samples = try? scrape(port) else { return false }
            during = samples
            let done = value(samples, "restore_console_bytes_restored_total{}"), total = value(samples, "restore_console_total_bytes{}")
            return done > 0 && done < total
        }
        #expect((during["__content_type__"] as? String)?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(value(during, "restore_console_stores{state=up}") == 3)
        #expect(value(during, "restore_console_download_speed_limit_bytes{store=1}") == 1_048_576)

        // The summary is printed when the restore ends; the endpoint lingers for this scrape.
        var summary: [String: Any] = [:]
        try await waitUntil(timeout: .seconds(120)) {
            guard let data = FileManager.default.contents(atPath: dir.file("summary.json")), let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
                  let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return false }
            summary = json
            return true
        }
        #expect(summary["checksum_match"] as? Bool == true)
        let after = try #require(try scrape(port))
        #expect(value(after, "restore_console_bytes_restored_total{}") == (summary["bytes"] as? NSNumber)?.doubleValue)
        #expect(value(after, "restore_console_kvs_restored_total{}") == (summary["kvs"] as? NSNumber)?.doubleValue)
        #expect(value(after, "restore_console_files_restored_total{}") == (summary["files"] as? NSNumber)?.doubleValue)
        #expect(value(after, "restore_console_regions{state=ingested}") == (summary["regions_ingested"] as? NSNumber)?.doubleValue)
        #expect(value(after, "restore_console_bytes_restored_total{}") > value(during, "restore_console_bytes_restored_total{}"))
        let regions = try #require((summary["regions_ingested"] as? NSNumber)?.doubleValue)
        #expect(value(after, "restore_console_rpc_duration_seconds_count{request=ingest,result=ok}") >= regions)
        // Each region's files reach its 3 replicas, a Download a large file and a BatchDownload a
        // column family's small ones.
        let downloads = (1...3).map { store in
            ["download", "batch_download"].map { max(0, value(after, "tikv_import_rpc_duration_count{request=\($0),result=ok,store=\(store)}")) }.reduce(0, +)
        }
        #expect(downloads.reduce(0, +) >= regions * 3, "every region's files downloaded on each of 3 replicas: \(downloads)")
        #expect(value(after, "restore_console_peak_rss_bytes{}") > 0)
    }

    /// `cluster serve` serves the import service's metrics under TiKV's names: a restore over gRPC
    /// moves them on every store.
    @Test func clusterServeServesTheImportServicesMetrics() throws {
        let dir = try TemporaryDirectory()
        try makeBackup(dir, tables: 2, rows: 2_000)
        let port = try freePort()
        let served = try ServedCluster(directory: dir.file("cluster"), extra: ["--metrics-addr", "127.0.0.1:\(port)"])
        let out = try runConsole(["restore", "--headless", "--storage", dir.file("backup"), "--pd", served.pd, "--state-dir", dir.file("state")] + wireTableIDs(2))
        #expect(out.status == 0, "\(out.stderr)")
        let samples = try #require(try scrape(port))
        for store in 1...3 {
            let calls = ["download", "batch_download"].map { value(samples, "tikv_import_rpc_duration_count{request=\($0),result=ok,store=\(store)}") }
            #expect(calls.contains { $0 > 0 }, "store \(store): \(calls)")
            #expect(value(samples, "tikv_import_download_duration_count{store=\(store),type=rewrite}") > 0, "store \(store)")
        }
        // MultiIngest goes to each region's leader: some store took them all.
        #expect((1...3).map { max(0, value(samples, "tikv_import_rpc_duration_count{request=multi_ingest,result=ok,store=\($0)}")) }.reduce(0, +) >= 2)
        #expect(served.stop() == 0)
    }
}
