import Synchronization

/// Bytes a store's downloads may hold in memory at once. A small file of a batch is fetched into
/// memory while the quota lasts and to a local file beyond it, as TiKV's importer keeps a batch's
/// small SSTs in memory within `import.memory-use-ratio` (tikv components/sst_importer/src/
/// sst_importer.rs, `request_download_sst_cache`; config.rs). Here the quota is a fixed share:
/// the embedded cluster's stores live in the client's process, whose memory is bounded whole.
final class MemoryQuota: Sendable {
    let capacity: UInt64
    private let used = Mutex<UInt64>(0)

    init(capacity: UInt64) { self.capacity = capacity }

    /// Takes `bytes` when they fit; false (and nothing taken) when they do not.
    func take(_ bytes: UInt64) -> Bool {
        used.withLock { used in
            guard bytes <= capacity - used else { return false }
            used += bytes
            return true
        }
    }

    func give(back bytes: UInt64) { used.withLock { $0 -= min($0, bytes) } }

    var inUse: UInt64 { used.withLock { $0 } }
}
