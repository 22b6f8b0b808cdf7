import KeyCodec
import ExternalStorage
import ClusterAPI

/// Everything a restore can be told: rules, limits, retry budgets and pacing.
public struct RestoreOptions: Sendable {
    public enum RewriteModeChoice: String, Sendable, CaseIterable {
        case auto, legacy, keyspace
    }

    /// Old table id -> new table id; tables not named get ids above the highest in use.
    public var tableIDMap: [Int64: Int64] = [:]
    /// Explicit prefix rules on user keys.
    public var prefixRules: [RewriteRule] = []
    /// An empty-old-prefix rule: insert this before every key.
    public var insertPrefix: [UInt8]?
    /// A new timestamp for every restored version (0 keeps the backup's).
    public var newTimestamp: UInt64 = 0
    /// The key of a backup BR encrypted (`--crypter.method`, `--crypter.key`): it decrypts the
    /// backupmeta here and each file on the stores. Never written anywhere.
    public var cipher: BackupCipher?
    /// Whether tables without a `tableIDMap` entry get ids above the highest in use. Only an
    /// embedded cluster may guess; in a TiDB cluster the ids are TiDB's.
    public var guessTableIDs = true
    public var rewriteMode = RewriteModeChoice.auto

    /// The tables to restore, as `--filter` rules in TiDB's table-filter syntax; empty takes every
    /// table. Names match without regard to case unless `caseSensitiveFilter`.
    public var tableFilter: [String] = []
    public var caseSensitiveFilter = false
    /// Only the keys in this range (user keys as the backup holds them, end exclusive); nil takes every key.
    public var keyRange: KeyRange?

    /// Concurrent downloads per store, and ingests in flight over the whole cluster: enough that
    /// a store's applies of small regions share their RocksDB ingests. With 16 ingests, 16 of the
    /// 24 regions in flight on 3 stores (`RestoreEngine.regionsPerDownloadSlot`) could ingest at
    /// once; with 32, a 24,145-region restore's stores ingest about 6.6 applies at a time instead
    /// of 6 (Docs/BENCHMARKS.md, stop 50).
    public var downloadsPerStore = ImportConcurrency.downloadsPerStore
    public var concurrentIngests = ImportConcurrency.concurrentIngests
    /// Download rate limit per store, bytes/s (0 = unlimited).
    public var rateLimit: UInt64 = 0

    /// File ranges merge into one region up to this many bytes (reset at each table).
    public var mergeSize: UInt64 = 96 << 20
    /// One ingest takes up to this many of a region's file sets and bytes together: one Raft
    /// proposal and one RocksDB ingest for many small files instead of one each.
    public var setsPerIngest = 256
    public var bytesPerIngest: UInt64 = 64 << 20
    /// Small files of a piece travel in BatchDownloads where every peer's store takes them; nil
    /// sends one Download a file.
    public var batchDownload: BatchPolicy? = BatchPolicy()

    /// Retry budgets, as BR: downloads 8 attempts from 1 s to 4 s, ingests 16 from 40 ms to 10 s.
    public var download = RetryPolicy(attempts: 8, initialBackoff: .seconds(1), maxBackoff: .seconds(4))
    public var ingest = RetryPolicy(attempts: 16, initialBackoff: .milliseconds(40), maxBackoff: .seconds(10))
    /// A region's checksum asked again after a region error, a store down or busy: 10 tries from
    /// 200 ms to 3 s (about 18 s in all), as BR's checksum backoffer (tidb br/pkg/utils/backoff.go).
    public var checksum = RetryPolicy(attempts: 10, initialBackoff: .milliseconds(200), maxBackoff: .seconds(3))
    /// No region spends longer than this in retries before it is marked Failed.
    public var regionDeadline: Duration = .seconds(600)

    public var verifyChecksum = true

    /// Restore where the cluster already holds data (the precheck refuses it otherwise).
    public var allowExistingData = false
    /// Prechecks whose failure does not stop the restore (`RestorePreview.checkNames`).
    public var skippedPrechecks: Set<String> = []

    public init() {}
}

/// Exponential backoff with jitter, capped in attempts.
public struct RetryPolicy: Sendable, Equatable {
    public var attempts: Int
    public var initialBackoff: Duration
    public var maxBackoff: Duration

    public init(attempts: Int, initialBackoff: Duration, maxBackoff: Duration) {
        self.attempts = attempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }

    /// The wait before retry number `attempt` (1-based): doubling, capped, with ±25% jitter.
    public func backoff(attempt: Int) -> Duration {
        var d = initialBackoff
        for _ in 1..<max(1, attempt) where d < maxBackoff { d = d * 2 }
        d = min(d, maxBackoff)
        return d * Double.random(in: 0.75...1.25)
    }
}
