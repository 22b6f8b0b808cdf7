import Foundation
import ClusterAPI

/// The placement driver's region layout on disk: `pd.json`, the whole layout as of its last
/// rewrite, and `pd.log`, one JSON line per save since then with the regions that save changed.
/// A split or a scatter appends its few regions instead of rewriting every region (quadratic in
/// regions over a restore); the log is folded into `pd.json` once it holds more regions than the
/// layout. The layout is a cache of what the stores' Raft states say (`PlacementDriver.load`
/// prefers their newer views), so neither file is synced; a line cut short by a kill is the last
/// one and is skipped.
struct LayoutFiles {
    let directory: String
    /// Regions in `pd.log`.
    private var logged = 0
    /// An append failed part way: the log may end in a torn line, so the next save folds it.
    private var mustFold = false

    init(directory: String) { self.directory = directory }

    var snapshotPath: String { directory + "/pd.json" }
    var logPath: String { directory + "/pd.log" }

    /// One save: `pd.json` keys are hex (as arrays of numbers, every byte of a key was a JSON value
    /// of its own, and encoding the layout of 24,000 regions took 110 MiB).
    struct Persisted: Codable {
        var nextID: UInt64
        var regions: [PersistedRegion]
    }

    struct EarlierPersisted: Codable {
        var nextID: UInt64
        var regions: [Region]
    }

    struct PersistedRegion: Codable {
        var id: UInt64
        var start: String
        var end: String
        var epoch: RegionEpoch
        var peers: [PeerMeta]

        init(_ region: Region) {
            (id, start, end, epoch, peers) = (region.id, region.startKey.hexString, region.endKey.hexString, region.epoch, region.peers)
        }

        var region: Region? {
            guard let startKey = [UInt8](hex: start), let endKey = [UInt8](hex: end) else { return nil }
            return Region(id: id, startKey: startKey, endKey: endKey, epoch: epoch, peers: peers)
        }
    }

    /// Appends `changed`; or writes `all()` (the layout of `count` regions) as the new `pd.json`
    /// and empties the log, when there is no `pd.json` yet or the log would hold more regions than
    /// the layout.
    mutating func save(nextID: UInt64, changed: [Region], count: Int, all: () -> [Region]) throws(ClusterError) {
        if mustFold || logged + changed.count > max(1_024, count) || !FileManager.default.fileExists(atPath: snapshotPath) {
            try write(to: snapshotPath) { try Self.encodeLayout(nextID: nextID, regions: all()) }
            try write(to: logPath) { Data() }
            (logged, mustFold) = (0, false)
            return
        }
        guard var line = try? JSONEncoder().encode(Persisted(nextID: nextID, regions: changed.map(PersistedRegion.init))) else {
            throw .io(path: logPath, reason: "cannot encode the region layout")
        }
        line.append(UInt8(ascii: "\n"))
        let fd = open(logPath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io(path: logPath, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let written = line.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        guard written == line.count else {
            mustFold = true
            throw .io(path: logPath, reason: written < 0 ? String(cString: strerror(errno)) : "short write")
        }
        logged += changed.count
    }

    /// `pd.json` as `Persisted`, encoded a region at a time: JSONEncoder builds its whole input as
    /// a tree before it writes a byte, tens of MiB at once for 24,000 regions, which the process
    /// then keeps resident for the rest of its run.
    static func encodeLayout(nextID: UInt64, regions: [Region]) throws -> Data {
        let encoder = JSONEncoder()
        var out = Data(#"{"nextID":\#(nextID),"regions":["#.utf8)
        for (i, region) in regions.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(try encoder.encode(PersistedRegion(region)))
        }
        out.append(contentsOf: "]}".utf8)
        return out
    }

    private func write(to path: String, _ encode: () throws -> Data) throws(ClusterError) {
        do {
            try encode().write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .io(path: path, reason: "cannot write the region layout: \(error.localizedDescription)")
        }
    }

    /// The layout as saved: `pd.json`, then each line of `pd.log`, a region replaced only by one
    /// of the same or a newer epoch (a log older than its `pd.json`, left by a kill between the
    /// two writes, changes nothing). Also counts the logged regions, for the next save.
    mutating func read() throws(ClusterError) -> (nextID: UInt64, regions: [Region]) {
        guard let data = FileManager.default.contents(atPath: snapshotPath) else { throw .corruptMetadata(path: snapshotPath, reason: "missing") }
        var (nextID, regions) = try Self.decode(data, path: snapshotPath, allowEarlier: true)
        var byID = Dictionary(regions.map { ($0.id, $0) }) { a, _ in a }
        let lines = (FileManager.default.contents(atPath: logPath) ?? Data()).split(separator: UInt8(ascii: "\n"))
        logged = 0
        for (n, line) in lines.enumerated() {
            let saved: (nextID: UInt64, regions: [Region])
            do { saved = try Self.decode(Data(line), path: logPath, allowEarlier: false) } catch {
                if n == lines.count - 1 { break }  // cut short by a kill
                throw error
            }
            nextID = max(nextID, saved.nextID)
            logged += saved.regions.count
            for region in saved.regions {
                if let known = byID[region.id], (known.epoch.version, known.epoch.confVer) > (region.epoch.version, region.epoch.confVer) { continue }
                byID[region.id] = region
            }
        }
        regions = byID.values.sorted { $0.id < $1.id }
        return (nextID, regions)
    }

    private static func decode(_ data: Data, path: String, allowEarlier: Bool) throws(ClusterError) -> (nextID: UInt64, regions: [Region]) {
        let persisted: Persisted
        do { persisted = try JSONDecoder().decode(Persisted.self, from: data) } catch {
            // A layout written before keys were hex.
            guard allowEarlier, let earlier = try? JSONDecoder().decode(EarlierPersisted.self, from: data) else { throw .corruptMetadata(path: path, reason: "\(error)") }
            persisted = Persisted(nextID: earlier.nextID, regions: earlier.regions.map(PersistedRegion.init))
        }
        let regions = persisted.regions.compactMap(\.region)
        guard regions.count == persisted.regions.count else { throw .corruptMetadata(path: path, reason: "a region's key is not hex") }
        return (persisted.nextID, regions)
    }
}
