import ExternalStorage

/// Writes a store's Raft state for all its regions with group commit, as TiKV's store writers do:
/// the writes that arrive while one synced write is on its way go together in the next, so a
/// thousand regions electing leaders after a split cost a few fsyncs, not thousands. A writer
/// hears back only once its batch is on disk.
final class RaftLogWriter: Sendable {
    private let queue: GroupCommit<WriteBatch, DatabaseError>

    /// `pressure`: why the disk cannot take writes now (below the store's reserve), or nil.
    init(db: RocksDatabase, label: String, pressure: @escaping @Sendable () -> String?) {
        queue = GroupCommit(label: label) { batches in
            // Refused before RocksDB meets a full disk: its WAL writer aborts the process on a
            // failed write (RocksDB 7.8, WritableFileWriter's assertion).
            if let pressure = pressure() { return .write(path: db.path, reason: "No space left on device: \(pressure)") }
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
