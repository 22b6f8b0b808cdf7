import Synchronization

/// Writes a store's Raft state for all its regions with group commit, as TiKV's store writers do:
/// the writes that arrive while one synced write is on its way go together in the next, so a
/// thousand regions electing leaders after a split cost a few fsyncs, not thousands. A writer
/// hears back only once its batch is on disk.
final class RaftLogWriter: Sendable {
    private struct Pending {
        var batch: WriteBatch
        var done: CheckedContinuation<DatabaseError?, Never>
    }

    private struct State {
        var pending: [Pending] = []
        var running = false
    }

    private let db: RocksDatabase
    private let state = Mutex(State())
    private let background: BackgroundWork

    init(db: RocksDatabase, label: String) {
        self.db = db
        background = BackgroundWork(label: label)
    }

    /// Returns once `batch` is written and synced, together with whatever else was waiting.
    func write(_ batch: WriteBatch) async throws(DatabaseError) {
        let failure: DatabaseError? = await withCheckedContinuation { done in
            let start = state.withLock { s in
                s.pending.append(Pending(batch: batch, done: done))
                defer { s.running = true }
                return !s.running
            }
            if start { background.run { self.drain() } }
        }
        if let failure { throw failure }
    }

    private func drain() {
        while true {
            let taken = state.withLock { s -> [Pending] in
                if s.pending.isEmpty { s.running = false }
                defer { s.pending.removeAll() }
                return s.pending
            }
            guard !taken.isEmpty else { return }
            var merged = WriteBatch()
            for write in taken { merged.append(write.batch) }
            var failure: DatabaseError?
            do { try db.write(merged, sync: true) } catch { failure = error }
            for write in taken { write.done.resume(returning: failure) }
        }
    }

    /// Returns when no write is on its way (before the DB closes).
    func finish() { background.wait() }
}
