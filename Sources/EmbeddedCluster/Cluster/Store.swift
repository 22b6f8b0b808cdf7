import Foundation
import Synchronization
import KeyCodec
import ClusterAPI

/// One store: a RocksDB with TiKV's column families at `<cluster>/stores/<id>/db`, an import
/// directory for downloaded and rewritten SSTs, its state (persisted in `store.json`) and faults.
public final class Store: Sendable {
    public let id: UInt64
    public let directory: String
    public let db: RocksDatabase
    public let importDirectory: String
    private let meta: Mutex<StoreState>
    /// Faults that drills arm here; the store's code asks this seam only.
    public let faults = FaultInjector()
    private let ingests = Atomic<Int>(0)
    /// Merges the small files that ingests leave.
    let compactor: IngestCompactor
    /// Syncs the Raft state of all the store's regions together.
    private let raftLog: RaftLogWriter
    /// Where its replicas' Raft state is kept: the RocksDB, unless a test gives another.
    let raftState: any RaftStateStorage
    /// Its free space and the reserve it keeps back: below the reserve the store takes no Raft
    /// write, apply state or download (they wait and are tried again), so that RocksDB never
    /// meets a full disk in its WAL, and space freed later brings the store back.
    let room: DiskRoom
    /// Ingests the applies of many regions together.
    let ingestWriter: IngestWriter
    /// Inodes of ingested files, reused for the next SSTs written here.
    let spares: SpareInodes
    /// The uuids ingested here since the store opened, to look records up without the DB.
    let knownIngests: KnownIngests

    struct Persisted: Codable {
        var id: UInt64
        var state: StoreState
    }

    /// Opens or creates the store under `clusterDirectory`.
    init(id: UInt64, clusterDirectory: String, maxOpenFiles: Int = OpenFileBudget.minimumPerStore, raftState: (any RaftStateStorage)? = nil) throws(ClusterError) {
        self.id = id
        directory = "\(clusterDirectory)/stores/\(id)"
        importDirectory = directory + "/import"
        for dir in [directory, importDirectory] {
            do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]) } catch {
                throw .io(path: dir, reason: "cannot create directory")
            }
        }
        var state = StoreState.up
        if let data = FileManager.default.contents(atPath: directory + "/store.json") {
            guard let persisted = try? JSONDecoder().decode(Persisted.self, from: data), persisted.id == id else {
                throw .corruptMetadata(path: directory + "/store.json", reason: "not a store description for store \(id)")
            }
            state = persisted.state
        }
        meta = Mutex(state)
        do { db = try RocksDatabase(path: directory + "/db", maxOpenFiles: maxOpenFiles) } catch { throw .database(error) }
        compactor = IngestCompactor(db: db, label: "store-\(id)-compaction")
        knownIngests = KnownIngests(db: db)
        room = DiskRoom(directory: directory)
        let pressure: @Sendable () -> String? = { [room] in room.pressure() }
        raftLog = RaftLogWriter(db: db, label: "store-\(id)-raft-log", pressure: pressure)
        self.raftState = raftState ?? RocksRaftStorage(db: db, storeID: id, writer: raftLog, pressure: pressure)
        ingestWriter = IngestWriter(label: "store-\(id)-ingest")
        do { spares = try SpareInodes(directory: directory + "/spare") } catch {
            throw .io(path: directory + "/spare", reason: "cannot create directory")
        }
        try persist(state)
    }

    /// Finishes the pending ingests, compactions and Raft writes, then closes the DB.
    func close() {
        ingestWriter.finish()
        raftLog.finish()
        compactor.finish()
        db.close()
        spares.removeAll()
    }

    public var state: StoreState { meta.withLock { $0 } }

    public var isUp: Bool { state.isUp }

    /// Changes the state and persists it. A panicked store stays panicked.
    public func setState(_ newState: StoreState) throws(ClusterError) {
        let changed: StoreState? = meta.withLock { current in
            if case .panicked = current { return nil }
            current = newState
            return newState
        }
        if let changed { try persist(changed) }
    }

    private func persist(_ state: StoreState) throws(ClusterError) {
        let path = directory + "/store.json"
        do {
            let data = try JSONEncoder().encode(Persisted(id: id, state: state))
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .io(path: path, reason: "cannot write store state: \(error.localizedDescription)")
        }
    }

    /// Counts one more RocksDB ingest (of one or more applies) here; returns the count.
    func countIngest() -> Int { ingests.add(1, ordering: .relaxed).newValue }

    /// True when an SST with this uuid was ingested here.
    public func hasIngested(uuid: String) -> Bool { records.wasIngested(uuid: uuid) }

    /// The store's apply records, looked up through what it knows first.
    var records: IngestRecords { IngestRecords(db: db, known: knownIngests) }

    /// How many Raft entries ingested each SST of this store (1 each, unless one was ingested twice).
    public func appliedIngestCounts() throws -> [String: Int] { try IngestRecords(db: db).counts() }

    // MARK: disk

    /// Bytes free on the store's file system (read again at most every 100 ms, far above the reserve).
    public func availableBytes() -> UInt64 { room.available() }

    /// Free space the store keeps back, as TiKV's `storage.reserve-space`.
    var reservedBytes: UInt64 { room.reserve }

    /// Why the store cannot take writes now (its disk is below the reserve), or nil.
    public func diskPressure() -> String? { room.pressure() }

    /// Bytes in the store's DB directory.
    public func usedBytes() -> UInt64 {
        guard let walker = FileManager.default.enumerator(atPath: directory + "/db") else { return 0 }
        var total: UInt64 = 0
        while let name = walker.nextObject() as? String {
            if let size = (try? FileManager.default.attributesOfItem(atPath: directory + "/db/" + name))?[.size] as? UInt64 { total += size }
        }
        return total
    }
}
