import ArgumentParser
import Foundation
import KeyCodec
import ExternalStorage
import BackupFormat

struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Produce a BR-format backup of synthetic TiDB-like tables, for demos, tests and benchmarks.",
        discussion: "The same options and seed always give the same keys, values and file layout."
    )

    @Option(name: .long, help: "Where to write the backup: a path, local:///path or s3://bucket/prefix?endpoint=...")
    var out: String

    @Option(name: .long, help: "Number of tables.")
    var tables = 4

    @Option(name: .long, help: "Rows per table.")
    var rows = 50_000

    @Option(name: .long, help: "Secondary indexes per table.")
    var indexes = 1

    @Option(name: .customLong("file-size"), help: ArgumentHelp(
        "Target size of each SST file (K, M, G); a list such as 16K,16K,64M gives the tables those sizes in turn.",
        valueName: "size[,size...]"))
    var fileSize = "4M"

    @Option(name: .long, help: "Seed of the synthetic data.")
    var seed: UInt64 = 1

    @Flag(name: .long, help: "Write a raw-KV (API v1) backup instead of transactional tables.")
    var raw = false

    @Flag(name: .long, help: "Write the incremental backup on top of the full one of the same --seed: rows ending in 0 updated, in 5 deleted.")
    var incremental = false

    @Option(name: .customLong("meta-version"), help: "backupmeta version: 1 (files inline) or 2 (meta files).")
    var metaVersion = 2

    @OptionGroup var storageOptions: StorageOptions

    @OptionGroup var crypter: CrypterOptions

    func validate() throws {
        guard tables >= 1 else { throw ValidationError("--tables must be at least 1") }
        guard rows >= 0, indexes >= 0 else { throw ValidationError("--rows and --indexes must not be negative") }
        guard try fileSizes().allSatisfy({ $0 >= 4096 }) else { throw ValidationError("--file-size must be at least 4096 bytes") }
        guard metaVersion == 1 || metaVersion == 2 else { throw ValidationError("--meta-version must be 1 or 2") }
    }

    func fileSizes() throws -> [UInt64] {
        try fileSize.split(separator: ",").map { try RestoreArguments.parseSize(String($0), what: "--file-size") }
    }

    func run() throws {
        let storage = try storageOptions.open(out)
        if let s3 = storage as? S3Storage { try s3.createBucket() }
        var options = BackupProducer.Options()
        options.tables = tables
        options.rows = rows
        options.indexes = indexes
        options.fileSizesByTable = try fileSizes()
        options.seed = seed
        options.raw = raw
        options.incremental = incremental
        options.metaVersion = metaVersion
        options.cipher = try crypter.cipher()
        let start = ContinuousClock.now
        let onTerminal = isatty(STDERR_FILENO) == 1
        let backup = try BackupProducer(storage: storage, options: options).produce { p in
            guard onTerminal else { return }
            FileHandle.standardError.write(Data("\rbackup: table \(p.tablesDone)/\(self.tables), \(p.files) files, \(ByteFormat.size(p.bytes))\u{1B}[K".utf8))
        }
        if onTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
        let seconds = Double((ContinuousClock.now - start).components.seconds) + Double((ContinuousClock.now - start).components.attoseconds) * 1e-18
        let sum = backup.checksum
        print("backup written to \(storage.displayName)")
        print("  \(backup.files.count) files (\(backup.filesByCF().map { "\($0.value) \($0.key)" }.sorted().joined(separator: ", "))), \(sum.totalKVs) kvs, \(ByteFormat.size(backup.totalSize)) in \(String(format: "%.2f", seconds)) s")
        print("  checksum crc64xor=\(sum.crc64xor) total_kvs=\(sum.totalKVs) total_bytes=\(sum.totalBytes)")
    }
}
