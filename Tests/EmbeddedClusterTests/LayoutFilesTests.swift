import Foundation
import Testing
@testable import TestSupport
@testable import ClusterAPI
@testable import EmbeddedCluster

/// The layout on disk: saves append the regions they changed, the log folds into `pd.json`, and a
/// read takes the newest epoch of each region whatever was cut short.
@Suite struct LayoutFilesTests {
    func region(_ id: UInt64, _ start: String, _ end: String, version: UInt64) -> Region {
        Region(id: id, startKey: Array(start.utf8), endKey: Array(end.utf8), epoch: RegionEpoch(confVer: 1, version: version), peers: [PeerMeta(id: id * 10, storeID: 1)])
    }

    func lines(_ path: String) -> Int {
        (FileManager.default.contents(atPath: path) ?? Data()).split(separator: UInt8(ascii: "\n")).count
    }

    @Test func savesAppendWhatChangedAndAReadTakesTheNewestEpoch() throws {
        let dir = try TemporaryDirectory()
        var files = LayoutFiles(directory: dir.path)
        var layout = [region(1, "", "", version: 1)]
        try files.save(nextID: 2, changed: layout, count: layout.count) { layout }
        #expect(FileManager.default.fileExists(atPath: files.snapshotPath), "the first save writes pd.json")
        #expect(lines(files.logPath) == 0)

        // A split: the parent narrows, a child appears; then the child's peers change.
        layout = [region(1, "", "m", version: 2), region(2, "m", "", version: 2)]
        try files.save(nextID: 3, changed: layout, count: layout.count) { layout }
        layout[1].epoch.confVer = 2
        try files.save(nextID: 4, changed: [layout[1]], count: layout.count) { layout }
        #expect(lines(files.logPath) == 2, "two saves, two lines; pd.json untouched")

        var reader = LayoutFiles(directory: dir.path)
        let read = try reader.read()
        #expect(read.nextID == 4)
        #expect(read.regions == layout)

        // A log older than pd.json (a kill after the fold wrote pd.json, before it emptied the
        // log) changes nothing: its region 1 is older than pd.json's.
        layout[0].epoch.version = 3
        let folded = LayoutFiles.Persisted(nextID: 5, regions: layout.map(LayoutFiles.PersistedRegion.init))
        try JSONEncoder().encode(folded).write(to: URL(fileURLWithPath: files.snapshotPath))
        var afterKill = LayoutFiles(directory: dir.path)
        let readAfterKill = try afterKill.read()
        #expect(readAfterKill.regions == layout, "the stale log's older epochs are ignored")
        #expect(readAfterKill.nextID == 5)
    }

    @Test func aLineCutShortIsSkippedAtTheEndAndAnErrorInTheMiddle() throws {
        let dir = try TemporaryDirectory()
        var files = LayoutFiles(directory: dir.path)
        let layout = [region(1, "", "m", version: 2), region(2, "m", "", version: 2)]
        try files.save(nextID: 3, changed: layout, count: layout.count) { layout }
        try files.save(nextID: 3, changed: layout, count: layout.count) { layout }
        let whole = try Data(contentsOf: URL(fileURLWithPath: files.logPath))
        try whole.prefix(whole.count - 10).write(to: URL(fileURLWithPath: files.logPath))
        var cut = LayoutFiles(directory: dir.path)
        #expect(try cut.read().regions == layout)

        try (Data("{not json\n".utf8) + whole).write(to: URL(fileURLWithPath: files.logPath))
        var broken = LayoutFiles(directory: dir.path)
        #expect(throws: ClusterError.self) { try broken.read() }
        do { _ = try broken.read() } catch { #expect("\(error)".contains("pd.log")) }
    }

    @Test func theLogFoldsIntoTheSnapshotOnceItOutgrowsTheLayout() throws {
        let dir = try TemporaryDirectory()
        var files = LayoutFiles(directory: dir.path)
        var layout = [region(1, "", "", version: 1)]
        try files.save(nextID: 2, changed: layout, count: layout.count) { layout }
        var foldedAt: Int?
        for n in 1...2_000 {
            layout[0].epoch.version += 1
            try files.save(nextID: 2, changed: layout, count: layout.count) { layout }
            if lines(files.logPath) == 0 { foldedAt = foldedAt ?? n }
        }
        #expect(foldedAt == 1_025, "folded when the log would pass 1,024 regions")
        #expect(lines(files.logPath) < 1_025)
        var reader = LayoutFiles(directory: dir.path)
        #expect(try reader.read().regions == layout)
    }
}
