import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec

/// A small SST given as bytes is decoded whole without RocksDB (`decoded_table.cpp`): held to
/// RocksDB's own reader of the same file, over the table options RocksDB writes with.
@Suite struct DecodedTableTests {
    /// RocksDB's ChecksumType and CompressionType numbers (rocksdb/table.h, compression_type.h).
    static let crc32c: Int32 = 1, xxh3: Int32 = 4
    static let none: Int32 = 0, snappy: Int32 = 1, zlib: Int32 = 2, lz4: Int32 = 4, zstd: Int32 = 7

    /// Sorted, distinct keys of 1 to 40 bytes (shared prefixes included) and values of 0 to 600
    /// bytes, half of them compressible.
    static func entries(count: Int, seed: UInt64) -> [(key: [UInt8], value: [UInt8])] {
        var random = SyntheticRandom(seed: seed)
        var keys = Set<[UInt8]>()
        while keys.count < count {
            let prefix: [UInt8] = [UInt8(random.next() % 4), 0x5F]
            keys.insert(prefix + (0..<Int(random.next() % 38)).map { _ in UInt8(random.next() % 256) })
        }
        return keys.sorted { $0.lexicographicallyPrecedes($1) }.map { key in
            let length = Int(random.next() % 601)
            let value = random.next() % 2 == 0 ? [UInt8](repeating: UInt8(length % 251), count: length) : (0..<length).map { _ in UInt8(random.next() % 256) }
            return (key, value)
        }
    }

    static func write(_ path: String, _ options: SSTWriter.TableOptions, _ entries: [(key: [UInt8], value: [UInt8])]) throws {
        let writer = try SSTWriter(path: path, options: options)
        for (key, value) in entries { try writer.put(key: key, value: value) }
        try writer.finish()
    }

    static func all(_ reader: SSTReader) throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        try reader.scan { key, value in
            out.append(Array(key))
            out.append(Array(value))
            return true
        }
        return out
    }

    /// Every format_version the decoder reads, both checksums, each compression it decompresses
    /// and blocks small and large: decoded, and read entry for entry, seek for seek, as RocksDB
    /// reads the file.
    @Test(arguments: [2, 3, 4, 5] as [Int32], [crc32c, xxh3].flatMap { checksum in [none, snappy, lz4, zstd].map { (checksum, $0) } })
    func aPlainTableDecodesAsRocksDBReadsIt(formatVersion: Int32, table: (checksum: Int32, compression: Int32)) throws {
        let (checksum, compression) = table
        let dir = try TemporaryDirectory()
        for blockSize in [256, 8192] {
            let path = dir.file("t-\(blockSize).sst")
            let entries = Self.entries(count: 300, seed: UInt64(formatVersion * 100 + checksum * 10 + compression))
            try Self.write(path, .init(formatVersion: formatVersion, checksum: checksum, compression: compression, blockSize: blockSize), entries)
            let file = try SSTReader(path: path)
            let memory = try SSTReader(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), name: "t.sst")
            #expect(memory.isDecoded, "format \(formatVersion), checksum \(checksum), compression \(compression), blocks of \(blockSize)")
            #expect(try Self.all(memory) == Self.all(file))
            #expect(memory.entryCount == file.entryCount && memory.dataSize == file.dataSize)
            #expect(try memory.firstKey == file.firstKey && memory.lastKey == file.lastKey)
            try memory.verifyChecksums()
            var random = SyntheticRandom(seed: UInt64(blockSize))
            let cursors = (memory.makeCursor(), file.makeCursor())
            for _ in 0..<50 {
                // A key of the table, one just after it, or random bytes.
                var target = entries[Int(random.next() % UInt64(entries.count))].key
                switch random.next() % 3 {
                case 0: break
                case 1: target.append(0)
                default: target = (0..<Int(random.next() % 6)).map { _ in UInt8(random.next() % 5) }
                }
                try cursors.0.seek(target)
                try cursors.1.seek(target)
                #expect(cursors.0.isValid == cursors.1.isValid)
                if cursors.0.isValid && cursors.1.isValid { #expect(cursors.0.key == cursors.1.key && cursors.0.value == cursors.1.value) }
            }
        }
    }

    /// Tables written with what the decoder leaves to RocksDB (zlib, format_version 1) still
    /// read, through RocksDB.
    @Test(arguments: [(5, zlib), (1, snappy)] as [(Int32, Int32)])
    func aTableTheDecoderLeavesIsReadByRocksDB(formatVersion: Int32, compression: Int32) throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("t.sst")
        try Self.write(path, .init(formatVersion: formatVersion, checksum: Self.xxh3, compression: compression, blockSize: 1024), Self.entries(count: 100, seed: 7))
        let file = try SSTReader(path: path)
        let memory = try SSTReader(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), name: "t.sst")
        #expect(!memory.isDecoded)
        #expect(try Self.all(memory) == Self.all(file))
    }

    /// Every byte of a small table flipped in turn: the table decodes to exactly its entries (the
    /// byte was footer padding, covered by no checksum), or the decoder leaves it to RocksDB,
    /// which reads it or refuses it; never a crash.
    @Test func everyFlippedByteDecodesTheSameOrIsLeftToRocksDB() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("t.sst")
        try Self.write(path, .init(formatVersion: 5, checksum: Self.xxh3, compression: Self.snappy, blockSize: 512), Self.entries(count: 40, seed: 3))
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let original = try Self.all(SSTReader(bytes: bytes, name: "t.sst"))
        var decoded = 0
        for i in bytes.indices {
            var flipped = bytes
            flipped[i] ^= 0x20
            guard let reader = try? SSTReader(bytes: flipped, name: "t.sst") else { continue }
            if reader.isDecoded {
                decoded += 1
                #expect(try Self.all(reader) == original, "byte \(i)")
            } else {
                _ = try? reader.verifyChecksums()
                _ = try? Self.all(reader)
            }
        }
        #expect(decoded < bytes.count / 10, "only the footer's padding is covered by no checksum: \(decoded) of \(bytes.count) flips decoded")
    }
}
