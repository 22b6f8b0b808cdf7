/// Writes a store's Raft state for all its regions with group commit, as TiKV's store writers do:
/// the writes that arrive while one synced write is on its way go together in the next, so a
/// thousand regions electing leaders after a split cost a few fsyncs, not thousands. A writer
/// hears back only once its batch is on disk.
final class RaftLogWriter: Sendable {
    private let queue: GroupCommit<WriteBatch, DatabaseError>

    init(db: RocksDatabase, label: String) {
        queue = GroupCommit(label: label) { batches in
            var merged = WriteBatch()
            for batch in batches { merged.append(batch) }
            do throws(DatabaseError) { try db.write(merged, sync: true) } catch { return error }
            return nil
        }
    }

    /// Returns once `batch` is written and synced, together with whatever else was waiting.
    func write(_ batch: WriteBatch) async throws(DatabaseError) {
        if let failure = await queue.submit(batch) { throw failure }
    }

    /// Returns when no write is on its way (before the DB closes).
    func finish() { queue.finish() }
}
