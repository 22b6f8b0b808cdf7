import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec

@Suite struct SSTTests {
    func key(_ i: Int) -> [UInt8] {
        DataKey.make(MVCCKey(userKey: TableCodec.recordKey(tableID: 7, handle: Int64(i)), timestamp: 100).encoded)
    }

    func value(_ i: Int) -> [UInt8] { WriteRecord(kind: .put, startTS: 90, shortValue: bytes("value-\(i)")).encoded }

    /// Writes `count` entries and returns the writer's checksum.
    @discardableResult
    func writeSST(_ path: String, count: Int) throws -> KVChecksum {
        let writer = try SSTWriter(path: path, tracksChecksum: true)
        for i in 0..<count { try writer.put(key: key(i), value: value(i)) }
        let size = try writer.finish()
        #expect(size > 0)
        return writer.checksum
    }

    @Test func roundTripOf100kKeys() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("t7.sst")
        let written = try writeSST(path, count: 100_000)
        let reader = try SSTReader(path: path)
        try reader.verifyChecksums()
        #expect(reader.entryCount == 100_000)
        #expect(try reader.firstKey == key(0))
        #expect(try reader.lastKey == key(99_999))
        #expect(try reader.checksum() == written)

        var i = 0
        try reader.scan { k, v in
            #expect(Array(k) == key(i))
            #expect(Array(v) == value(i))
            i += 1
            return true
        }
        #expect(i == 100_000)

        let cursor = reader.makeCursor()
        try cursor.seek(key(54_321))
        #expect(cursor.isValid && cursor.key == key(54_321))
        try cursor.next()
        #expect(cursor.key == key(54_322))
        try cursor.seek(DataKey.make(bytes("zzz")))  // past the end
        #expect(!cursor.isValid)
    }

    @Test func outOfOrderPutIsRejected() throws {
        let dir = try TemporaryDirectory()
        let writer = try SSTWriter(path: dir.file("bad.sst"))
        try writer.put(key: bytes("b"), value: bytes("1"))
        #expect(throws: SSTError.outOfOrder(path: dir.file("bad.sst"), previous: bytes("b"), key: bytes("a"))) {
            try writer.put(key: bytes("a"), value: bytes("2"))
        }
        #expect(throws: SSTError.self) { try writer.put(key: bytes("b"), value: bytes("dup")) }
        try writer.put(key: bytes("c"), value: bytes("3"))
        try writer.finish()
        #expect(throws: SSTError.alreadyFinished(path: dir.file("bad.sst"))) { try writer.put(key: bytes("d"), value: []) }
        #expect(try SSTReader(path: dir.file("bad.sst")).entryCount == 2)
    }

    @Test func aFlippedByteInADataBlockIsDetected() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("flip.sst")
        try writeSST(path, count: 20_000)
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data[200] ^= 0x5A  // inside the first data block
        try data.write(to: URL(fileURLWithPath: path))

        let reader = try SSTReader(path: path)
        #expect {
            try reader.verifyChecksums()
        } throws: { error in
            guard let e = error as? SSTError, case .corrupt = e else { return false }
            return e.path == path && e.description.contains(path)
        }
        #expect(throws: SSTError.self) { try reader.checksum() }
    }

    @Test func garbageAndTruncatedFilesAreErrorsThatNameTheFile() throws {
        let dir = try TemporaryDirectory()
        let garbage = dir.file("garbage.sst")
        try Data(repeating: 0x42, count: 4096).write(to: URL(fileURLWithPath: garbage))
        #expect { try SSTReader(path: garbage) } throws: { ($0 as? SSTError)?.path == garbage }

        let truncated = dir.file("truncated.sst")
        try writeSST(truncated, count: 5_000)
        let full = try Data(contentsOf: URL(fileURLWithPath: truncated))
        try full.prefix(full.count / 2).write(to: URL(fileURLWithPath: truncated))
        #expect { try SSTReader(path: truncated) } throws: { ($0 as? SSTError)?.description.contains(truncated) == true }

        let missing = dir.file("missing.sst")
        #expect { try SSTReader(path: missing) } throws: { ($0 as? SSTError)?.path == missing }
        #expect { try SSTWriter(path: dir.file("no/such/dir/x.sst")) } throws: { $0 is SSTError }
    }

    /// A table written where a file is already (a spare inode placed there) is written over it:
    /// same inode, and exactly the new table, whether the old file was larger, smaller or not a
    /// table at all; `sst_dump` checks it.
    @Test func aTableWrittenOverAFileIsExactlyTheNewTable() throws {
        let dir = try TemporaryDirectory()
        func inode(_ path: String) -> UInt64 {
            var info = stat()
            return stat(path, &info) == 0 ? UInt64(info.st_ino) : 0
        }
        let path = dir.file("reused.sst")
        for (old, new) in [(20_000, 50), (50, 20_000), (0, 3_000)] {
            if old > 0 { try writeSST(path, count: old) } else { try Data(repeating: 0x42, count: 300_000).write(to: URL(fileURLWithPath: path)) }
            let before = inode(path)
            let written = try writeSST(path, count: new)
            let after = inode(path)
            #expect(after == before, "written over, not replaced (\(old) -> \(new))")
            let reader = try SSTReader(path: path)
            try reader.verifyChecksums()
            #expect(reader.entryCount == UInt64(new))
            #expect(try reader.checksum() == written)
            let dump = try runProgram("sst_dump", ["--file=\(path)", "--command=check"])
            #expect(dump.status == 0, "sst_dump: \(dump.stderr)")
        }
    }

    /// An SST held in memory reads as the same file does: its entries, its checksum; garbage,
    /// a truncated copy and a flipped data byte are errors that name it.
    @Test func anSSTInMemoryReadsAsItsFile() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("mem.sst")
        try writeSST(path, count: 5_000)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let file = try SSTReader(path: path)
        let memory = try SSTReader(bytes: bytes, name: "mem.sst")
        #expect(memory.entryCount == file.entryCount)
        try memory.verifyChecksums()
        #expect(try memory.checksum() == file.checksum())
        #expect(try memory.firstKey == file.firstKey && memory.lastKey == file.lastKey)

        #expect { try SSTReader(bytes: [UInt8](repeating: 0x42, count: 4096), name: "garbage.sst") } throws: { ($0 as? SSTError)?.path == "garbage.sst" }
        #expect { try SSTReader(bytes: Array(bytes.prefix(bytes.count / 2)), name: "half.sst") } throws: { ($0 as? SSTError)?.path == "half.sst" }
        #expect { try SSTReader(bytes: [], name: "empty.sst") } throws: { ($0 as? SSTError)?.path == "empty.sst" }
        var flipped = bytes
        flipped[200] ^= 0x5A
        let damaged = try SSTReader(bytes: flipped, name: "flip.sst")
        #expect { try damaged.verifyChecksums() } throws: { ($0 as? SSTError)?.description.contains("flip.sst") == true }
    }

    /// `sst_dump` from rocksdb-tools reads our file and counts the same entries.
    @Test func sstDumpReadsOurFile() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("dump.sst")
        try writeSST(path, count: 3_000)
        let out = try runProgram("sst_dump", ["--file=\(path)", "--command=scan", "--output_hex"])
        #expect(out.status == 0, "sst_dump failed: \(out.stderr)")
        let entries = out.stdout.split(separator: "\n").filter { $0.contains(" => ") }
        #expect(entries.count == 3_000)
        #expect(entries.first?.hasPrefix("'\(key(0).hexString.uppercased())'") == true)
        let check = try runProgram("sst_dump", ["--file=\(path)", "--command=check", "--verify_checksum"])
        #expect(check.status == 0)
    }
}
