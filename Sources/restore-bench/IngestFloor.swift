import Foundation
import Synchronization
import EmbeddedCluster
import KeyCodec

extension RestoreBenchmark {
    /// Threads of the floor: the fastest of 2, 4, 8 and 16 here (8: 60 s for the 24,145-region
    /// backup; 2, one a core: 76 s; 16: 69 s).
    static let floorThreads = 8

    /// The least work the protocol asks of these 2 cores for a backup of many small files: `floor`
    /// (one `cp`, the C++ SST copy of each file per replica) and each copy ingested by RocksDB
    /// into its replica's database, with the files of 64 file sets in one ingest, as the stores'
    /// `IngestWriter` gathers 64 applies; on 8 threads; then `sync`. No Raft, no apply record,
    /// no compaction, no download protocol: each is work a real restore adds. Returns seconds.
    func ingestFloor(of backup: String) throws -> Double {
        let files = try FileManager.default.contentsOfDirectory(atPath: backup).filter { $0.hasSuffix(".sst") }.sorted()
        let out = "\(directory)/ingest-floor"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let databases = try (0..<3).map { replica in
            try FileManager.default.createDirectory(atPath: "\(out)/\(replica)/import", withIntermediateDirectories: true)
            return try RocksDatabase(path: "\(out)/\(replica)/db")
        }
        defer { databases.forEach { $0.close() } }
        // A file set is a default and a write file: 64 sets are about 128 files.
        let chunks = stride(from: 0, to: files.count, by: 128).map { Array(files[$0..<min($0 + 128, files.count)]) }
        let failures = Mutex<[String]>([])
        let start = ContinuousClock.now
        try run("/bin/cp", ["-r", backup, out + "/download"])
        // Threads beyond the cores, so that one waiting for its fsync leaves the core to another.
        let next = Atomic<Int>(0)
        let done = DispatchGroup()
        for _ in 0..<Self.floorThreads {
            done.enter()
            Thread {
                defer { done.leave() }
                while case let i = next.add(1, ordering: .relaxed).oldValue, i < chunks.count * 3 {
                    let (chunk, replica) = (chunks[i / 3], i % 3)
                    var copies: [(cf: ColumnFamily, path: String)] = []
                    for file in chunk {
                        let copy = "\(out)/\(replica)/import/\(file)"
                        if let error = RewriteBenchmark.copySST("\(out)/download/\(file)", to: copy) {
                            failures.withLock { $0.append("\(file): \(error)") }
                            return
                        }
                        copies.append((cf: file.contains("default") ? .default : .write, path: copy))
                    }
                    do { try databases[replica].ingest(copies, move: true) } catch {
                        failures.withLock { $0.append("ingest: \(error)") }
                    }
                }
            }.start()
        }
        done.wait()
        try run("/bin/sync", [])
        let seconds = RewriteBenchmark.seconds(ContinuousClock.now - start)
        if let first = failures.withLock({ $0.first }) { throw BenchError.failed("ingest floor: \(first)") }
        return seconds
    }
}
