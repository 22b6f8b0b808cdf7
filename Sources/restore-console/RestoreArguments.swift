import ArgumentParser
import RemoteCluster
import Foundation
import KeyCodec
import ClusterAPI
import RestoreDriver
import KVWire
import BackupFormat

/// Options of a restore: where from, where to, rules, limits and retry budgets.
struct RestoreArguments: ParsableArguments {
    @Option(name: .long, help: "The backup: a path, local:///path, http(s)://host/path, or s3://bucket/prefix?endpoint=...")
    var storage: String

    @Option(name: .long, help: "An embedded cluster's directory; created when new or empty.")
    var cluster: String?

    @Option(name: .long, help: "A TiKV cluster's PD members, HOST:PORT[,HOST:PORT...]: restore over kvproto's gRPC instead of into an embedded cluster; the client follows PD's leader among them.")
    var pd: String?

    @Option(name: .customLong("state-dir"), help: "With --pd: where the checkpoint lives (default ~/.local/state/restore-console/<cluster id>).")
    var stateDirectory: String?

    @OptionGroup var tls: TLSOptions

    @Flag(name: .customLong("insecure"), help: "With --pd and no TLS to a host that is not this machine: send the S3 credentials in plaintext anyway (a warning says so).")
    var insecure = false

    @Flag(name: .customLong("keep-schedulers"), help: "With --pd: leave PD's balance schedulers and schedule config as they are (by default they are paused for the restore, as BR does, and set back after it).")
    var keepSchedulers = false

    @Option(name: .long, help: "Stores of a new cluster.")
    var stores = 3

    @Option(name: .long, help: "Replicas of each region in a new cluster.")
    var replicas = 3

    @Option(name: .customLong("table-id-map"), help: "New table ids: OLD:NEW[,OLD:NEW...]. Other tables get ids above the highest in use.")
    var tableIDMap: String?

    @Option(name: .customLong("rewrite"), help: "A prefix rule OLD=NEW on user keys, in hex (0x...) or with \\xNN escapes. Repeatable.")
    var rewrites: [String] = []

    @Option(name: .customLong("prefix"), help: "Insert this prefix before every key (an empty old prefix); hex (0x...) or escaped text.")
    var prefix: String?

    @Option(name: .customLong("rewrite-mode"), help: "auto, legacy (encoded table prefixes) or keyspace (decode, rewrite, encode).")
    var rewriteMode = "auto"

    @Option(name: .customLong("filter"), help: "Restore only the tables these rules select, as BR's --filter: db.tbl, wildcards (* ? [a-z]), quoted names, !excluded, @file. The last rule that matches decides. Repeatable.")
    var filters: [String] = []

    @Flag(name: .customLong("case-sensitive"), help: "Match --filter names with regard to case.")
    var caseSensitive = false

    @Option(name: .customLong("start-key"), help: "Restore only keys from this one on: a user key of the backup, in hex.")
    var startKey: String?

    @Option(name: .customLong("end-key"), help: "Restore only keys before this one: a user key of the backup, in hex.")
    var endKey: String?

    @Option(name: .customLong("new-ts"), help: "Rewrite every restored version to this timestamp (0 keeps the backup's).")
    var newTimestamp: UInt64 = 0

    @Option(name: .long, help: "Download rate limit per store, bytes/s with an optional K, M or G (0 = unlimited).")
    var rate = "0"

    @Option(name: .customLong("downloads-per-store"), help: "Concurrent downloads per store (default \(ImportConcurrency.downloadsPerStore); with --pd, --tikv-max-restore-concurrency).")
    var downloadsPerStore: Int?

    @Option(name: .customLong("concurrent-ingests"), help: "Ingests in flight over the whole cluster (default \(ImportConcurrency.concurrentIngests); with --pd, --tikv-max-restore-concurrency).")
    var concurrentIngests: Int?

    @Option(name: .customLong("tikv-max-restore-concurrency"), help: "With --pd: downloads per store and ingests in flight, as BR's flag of that name (its default 128).")
    var tikvMaxRestoreConcurrency = 128

    @Option(name: .customLong("download-timeout"), help: "With --pd: seconds one Download call may take, as BR's (25 minutes).")
    var downloadTimeout = 1_500

    @Option(name: .customLong("ingest-timeout"), help: "With --pd: seconds one MultiIngest call may take (BR sets none; 25 minutes).")
    var ingestTimeout = 1_500

    @Option(name: .customLong("merge-size"), help: "Merge file ranges into one region up to this many bytes (K, M, G).")
    var mergeSize = "96M"

    @Option(name: .customLong("download-attempts"), help: "Attempts per download before a region fails.")
    var downloadAttempts = 8

    @Option(name: .customLong("ingest-attempts"), help: "Attempts per ingest before a region fails.")
    var ingestAttempts = 16

    @Option(name: .customLong("region-deadline"), help: "Seconds a region may spend in retries before it fails.")
    var regionDeadline = 600

    @Option(name: .customLong("batch-download"), help: "Send a piece's small files of one column family in one BatchDownload, merged into one SST, where every store takes it; false sends a Download a file.")
    var batchDownload = true

    @Option(name: .customLong("checksum"), help: "Check the restored data against the backup's figures at the end, as BR's --checksum; --checksum=false skips it.")
    var checksum = true

    @Flag(name: .customLong("allow-existing-data"), help: "Restore where the cluster already holds data (the precheck refuses it otherwise).")
    var allowExistingData = false

    @Option(name: .customLong("skip-precheck"), help: "Go on when this precheck fails: \(RestorePreview.checkNames.joined(separator: ", ")). Repeatable.")
    var skippedPrechecks: [String] = []

    @OptionGroup var storageOptions: StorageOptions

    @OptionGroup var crypter: CrypterOptions

    func validate() throws {
        guard (cluster == nil) != (pd == nil) else { throw ValidationError("give one of --cluster DIR (embedded) or --pd HOST:PORT (a TiKV cluster)") }
        guard pd != nil || stateDirectory == nil else { throw ValidationError("--state-dir is for --pd; an embedded cluster keeps its checkpoint in its directory") }
        guard try pd != nil || tls.security == nil else { throw ValidationError("--ca, --cert and --key are for --pd") }
        guard stores >= 1, replicas >= 1, replicas <= stores else { throw ValidationError("need 1 <= --replicas <= --stores") }
        guard (downloadsPerStore ?? 1) >= 1, (concurrentIngests ?? 1) >= 1, tikvMaxRestoreConcurrency >= 1 else { throw ValidationError("concurrency must be at least 1") }
        guard downloadTimeout >= 1, ingestTimeout >= 1 else { throw ValidationError("timeouts must be at least 1 second") }
        guard downloadAttempts >= 1, ingestAttempts >= 1, regionDeadline >= 1 else { throw ValidationError("retry budgets must be at least 1") }
        _ = try options()
    }

    /// How long each call to a TiKV cluster may take: BR's 25 minutes a Download
    /// (tidb br/pkg/restore/snap_client/import.go `gRPCTimeOut`), the same for MultiIngest.
    var wireTimeouts: WireTimeouts {
        var timeouts = WireTimeouts()
        timeouts.download = .seconds(downloadTimeout)
        timeouts.ingest = .seconds(ingestTimeout)
        return timeouts
    }

    func options() throws -> RestoreOptions {
        var o = RestoreOptions()
        do {
            if let map = tableIDMap { o.tableIDMap = try RuleArguments.tableIDMap(map) }
            o.prefixRules = try rewrites.map { (text: String) throws(RuleArguments.Invalid) in try RuleArguments.rewrite(text) }
            if let prefix { o.insertPrefix = try RuleArguments.bytes(prefix, what: "--prefix") }
        } catch {
            throw ValidationError(error.description)
        }
        guard let mode = RestoreOptions.RewriteModeChoice(rawValue: rewriteMode) else {
            throw ValidationError("--rewrite-mode must be auto, legacy or keyspace, not '\(rewriteMode)'")
        }
        o.rewriteMode = mode
        do { _ = try TableFilter(filters, caseSensitive: caseSensitive) } catch { throw ValidationError(error.description) }
        o.tableFilter = filters
        o.caseSensitiveFilter = caseSensitive
        if startKey != nil || endKey != nil {
            o.keyRange = KeyRange(start: try Self.parseKey(startKey, what: "--start-key"), end: try Self.parseKey(endKey, what: "--end-key"))
        }
        o.newTimestamp = newTimestamp
        o.cipher = try crypter.cipher()
        o.guessTableIDs = pd == nil
        o.rateLimit = try Self.parseSize(rate, what: "--rate")
        // A TiKV cluster budgets its own work; BR keeps 128 calls in flight per store.
        o.downloadsPerStore = downloadsPerStore ?? (pd == nil ? o.downloadsPerStore : tikvMaxRestoreConcurrency)
        o.concurrentIngests = concurrentIngests ?? (pd == nil ? o.concurrentIngests : tikvMaxRestoreConcurrency)
        o.mergeSize = try Self.parseSize(mergeSize, what: "--merge-size")
        o.download.attempts = downloadAttempts
        o.ingest.attempts = ingestAttempts
        o.regionDeadline = .seconds(regionDeadline)
        o.verifyChecksum = checksum
        if !batchDownload { o.batchDownload = nil }
        o.allowExistingData = allowExistingData
        for name in skippedPrechecks where !RestorePreview.checkNames.contains(name) {
            throw ValidationError("--skip-precheck takes \(RestorePreview.checkNames.joined(separator: ", ")), not '\(name)'")
        }
        o.skippedPrechecks = Set(skippedPrechecks)
        return o
    }

    /// A hex key (with or without 0x); none is an open bound.
    static func parseKey(_ text: String?, what: String) throws -> [UInt8] {
        guard let text else { return [] }
        guard let key = [UInt8](hex: text) else { throw ValidationError("\(what): '\(text)' is not a key in hex") }
        return key
    }

    static func parseSize(_ text: String, what: String) throws -> UInt64 {
        let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        var digits = text.uppercased()
        var multiplier: UInt64 = 1
        if let last = digits.last, let unit = units[last] {
            multiplier = unit
            digits.removeLast()
        }
        guard let value = UInt64(digits) else { throw ValidationError("\(what): '\(text)' is not a size such as 64M") }
        return value * multiplier
    }
}

/// A restore that ended in a way its exit code must tell.
struct RestoreExit: Error {
    var code: Int32
}

/// Mutual TLS for the wire, as TiKV clusters use it.
struct TLSOptions: ParsableArguments {
    @Option(name: .customLong("ca"), help: "The CA certificate (PEM) that signs the cluster's certificates.")
    var ca: String?

    @Option(name: .customLong("cert"), help: "This side's certificate (PEM), signed by --ca.")
    var cert: String?

    @Option(name: .customLong("key"), help: "The private key (PEM) of --cert.")
    var key: String?

    func validate() throws { _ = try security }

    var security: WireSecurity? {
        get throws {
            do { return try WireSecurity(ca: ca, cert: cert, key: key) } catch { throw ValidationError(error.description) }
        }
    }
}
