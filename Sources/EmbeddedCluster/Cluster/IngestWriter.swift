import Synchronization

/// Ingests a store's applies with group commit, as `RaftLogWriter` writes its Raft state: the
/// applies of other regions that arrive while one RocksDB ingest is on its way go together in the
/// next, with one apply record, one MANIFEST write and one sync for all of them, instead of each.
/// An apply hears back once its files are in the DB, or why they are not.
final class IngestWriter: Sendable {
    private struct Pending {
        var ingestion: SSTIngestion
        var done: CheckedContinuation<(any Error)?, Never>
    }

    private struct State {
        var pending: [Pending] = []
        var running = false
    }

    /// Applies in one ingest at most: a bound on the files RocksDB checks and opens in one go.
    static let maxBatch = 64

    private let state = Mutex(State())
    private let background: BackgroundWork

    init(label: String) {
        background = BackgroundWork(label: label)
    }

    /// Returns once `ingestion`'s files are ingested, together with whatever else was waiting.
    func ingest(_ ingestion: SSTIngestion) async throws {
        let failure: (any Error)? = await withCheckedContinuation { done in
            let start = state.withLock { s in
                s.pending.append(Pending(ingestion: ingestion, done: done))
                defer { s.running = true }
                return !s.running
            }
            if start { background.run { self.drain() } }
        }
        if let failure { throw failure }
    }

    private func drain() {
        while true {
            let batch = state.withLock { s -> [Pending] in
                let batch = Self.takeBatch(from: &s.pending, max: Self.maxBatch) { $0.ingestion.overlaps($1.ingestion) }
                if batch.isEmpty { s.running = false }
                return batch
            }
            guard let store = batch.first?.ingestion.store else { return }
            var failure: (any Error)?
            do { try SSTIngestion.run(batch.map(\.ingestion), on: store) } catch { failure = error }
            for apply in batch { apply.done.resume(returning: failure) }
        }
    }

    /// Up to `max` of the oldest pending applies, each overlapping none before it; an apply that
    /// overlaps one waits for a later ingest, and keeps its place.
    static func takeBatch<Apply>(from pending: inout [Apply], max: Int, overlaps: (Apply, Apply) -> Bool) -> [Apply] {
        var batch: [Apply] = []
        var rest: [Apply] = []
        for apply in pending {
            let clashes = { (earlier: Apply) in overlaps(earlier, apply) }
            if batch.count < max, !batch.contains(where: clashes), !rest.contains(where: clashes) {
                batch.append(apply)
            } else {
                rest.append(apply)
            }
        }
        pending = rest
        return batch
    }

    /// Returns when no ingest is on its way (before the DB closes).
    func finish() { background.wait() }
}
