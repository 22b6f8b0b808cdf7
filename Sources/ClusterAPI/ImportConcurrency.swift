/// The restore's default concurrency against a cluster it runs in process: the driver's options
/// start from it, and the embedded cluster sizes its stores' table caches by what it leaves of
/// the open-files limit.
public enum ImportConcurrency {
    /// Downloads in flight on each store.
    public static let downloadsPerStore = 4
    /// Ingests in flight over the whole cluster.
    public static let concurrentIngests = 32
}
