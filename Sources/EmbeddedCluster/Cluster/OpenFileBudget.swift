import Foundation

/// How the process spends its file descriptors, as TiKV budgets `max-open-files`: the soft
/// `RLIMIT_NOFILE` is raised to the hard limit at start, then every store's RocksDB gets a bounded
/// table cache from what is left after downloads in flight (a temp file, a reader and a writer
/// each), ingests (clones and a record) and a fixed reserve (standard streams, sockets, logs).
/// A limit too low for the configured concurrency is refused at start, naming both numbers.
public struct OpenFileBudget: Sendable, Equatable {
    /// The open-files limit the process got.
    public var limit: Int
    public var stores: Int
    public var downloadsPerStore: Int
    public var concurrentIngests: Int

    /// A store's RocksDB needs this many table files open at the least to work well.
    public static let minimumPerStore = 64
    /// Beyond this, more open files buy nothing for a restore, and cost memory: each open table
    /// keeps its reader (properties, metadata) outside the block cache, a few KiB each.
    public static let maximumPerStore = 1_024
    /// Descriptors of a store besides its table cache: WAL, MANIFEST, LOCK, LOG, directories.
    static let storeOverhead = 16
    /// Standard streams, the console's terminal, sockets to storage, libcurl, the checkpoint.
    static let reserve = 64

    public init(limit: Int, stores: Int, downloadsPerStore: Int, concurrentIngests: Int) {
        self.limit = limit
        self.stores = stores
        self.downloadsPerStore = downloadsPerStore
        self.concurrentIngests = concurrentIngests
    }

    /// Descriptors that downloads and ingests hold at the most.
    public var transfers: Int { stores * downloadsPerStore * 4 + concurrentIngests * 4 }

    /// The least limit this configuration works with.
    public var needed: Int { Self.reserve + transfers + stores * (Self.minimumPerStore + Self.storeOverhead) }

    /// Each store's RocksDB table cache.
    public var perStore: Int {
        let left = (limit - Self.reserve - transfers) / max(1, stores) - Self.storeOverhead
        return min(Self.maximumPerStore, max(Self.minimumPerStore, left))
    }

    public struct TooLow: Error, CustomStringConvertible {
        public var budget: OpenFileBudget

        public var description: String {
            let b = budget
            return "the open-files limit is \(b.limit), and this restore needs at least \(b.needed) "
                + "(\(b.stores) stores with \(OpenFileBudget.minimumPerStore + OpenFileBudget.storeOverhead) each, "
                + "\(b.transfers) for \(b.downloadsPerStore) downloads per store and \(b.concurrentIngests) ingests, \(OpenFileBudget.reserve) reserved): "
                + "raise it (ulimit -n \(b.needed)) or lower --downloads-per-store or --concurrent-ingests"
        }
    }

    /// Throws when the limit is below what the configuration needs.
    public func check() throws(TooLow) {
        guard limit >= needed else { throw TooLow(budget: self) }
    }

    /// Raises the soft open-files limit to the hard one; returns the soft limit in force.
    @discardableResult
    public static func raiseProcessLimit() -> Int {
        var limits = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0, limits.rlim_cur < limits.rlim_max {
            limits.rlim_cur = limits.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits)
        }
        return processLimit
    }

    /// The hard limit, up to which the soft one can be raised.
    public static var hardLimit: Int { openFilesLimit(\.rlim_max) }

    /// The soft limit now in force.
    public static var processLimit: Int { openFilesLimit(\.rlim_cur) }

    private static func openFilesLimit(_ field: KeyPath<rlimit, rlim_t>) -> Int {
        var limits = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0 else { return 1024 }
        return Int(Swift.min(UInt64(limits[keyPath: field]), UInt64(Int32.max)))  // RLIM_INFINITY too
    }
}
