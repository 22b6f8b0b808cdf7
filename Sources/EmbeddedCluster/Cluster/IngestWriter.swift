import ExternalStorage

/// Ingests a store's applies with group commit, as `RaftLogWriter` writes its Raft state: the
/// applies of other regions that arrive while one RocksDB ingest is on its way go together in the
/// next, with one apply record, one MANIFEST write and one sync for all of them, instead of each.
/// Two applies whose files overlap never share an ingest. An apply hears back once its files are
/// in the DB, or why they are not.
final class IngestWriter: Sendable {
    /// Applies in one ingest at most: a bound on the files RocksDB checks and opens in one go.
    static let maxBatch = 64

    private let queue: GroupCommit<SSTIngestion, any Error>

    init(label: String) {
        queue = GroupCommit(label: label, maxBatch: Self.maxBatch, conflict: { $0.overlaps($1) }) { batch in
            do { try SSTIngestion.run(batch, on: batch[0].store) } catch { return error }
            return nil
        }
    }

    /// Returns once `ingestion`'s files are ingested, together with whatever else was waiting.
    func ingest(_ ingestion: SSTIngestion) async throws {
        if let failure = await queue.submit(ingestion) { throw failure }
    }

    /// Returns when no ingest is on its way (before the DB closes).
    func finish() { queue.finish() }
}
