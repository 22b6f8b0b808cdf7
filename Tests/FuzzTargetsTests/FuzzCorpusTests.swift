import Foundation
import Testing
import FuzzTargets
@testable import TestSupport
@testable import KeyCodec

/// The fuzz targets replayed: the committed corpus, and the inputs that once aborted RocksDB.
@Suite struct FuzzCorpusTests {
    /// Found by fuzzing: a damaged properties block (RocksDB checks that block's checksum only
    /// after parsing it, and Debian's librocksdb asserts) and an index handle past the end of the
    /// file (RocksDB allocated it, and the bad_alloc ended the process). Both are now refused,
    /// naming the file, before RocksDB opens them; as a file, and held in memory (a small
    /// download of a batch).
    @Test(arguments: [
        ("sst-properties-block-unverified", "the properties block fails its checksum"),
        ("sst-index-handle-outside-file", "a block handle in the footer points outside the file"),
    ])
    func anSSTThatAbortedRocksDBIsRefusedFirst(name: String, reason: String) throws {
        let path = "\(repositoryRoot)/Fuzz/regressions/\(name)"
        #expect {
            _ = try SSTReader(path: path)
        } throws: { error in
            guard case let .corrupt(p, message) = error as? SSTError else { return false }
            return p == path && message.contains(reason)
        }
        let bytes = [UInt8](try #require(FileManager.default.contents(atPath: path)))
        #expect {
            _ = try SSTReader(bytes: bytes, name: name)
        } throws: { error in
            guard case let .corrupt(p, message) = error as? SSTError else { return false }
            return p == name && message.contains(reason)
        }
        FuzzTarget.sst.run([UInt8](try #require(FileManager.default.contents(atPath: path))))
    }

    /// Every committed corpus input (and every crash found, kept there as a regression) runs
    /// through its parser without a trap.
    @Test(arguments: FuzzTarget.allCases)
    func theFuzzCorpusReplaysCleanly(target: FuzzTarget) throws {
        let directory = "\(repositoryRoot)/Fuzz/corpus/\(target.rawValue)"
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(!files.isEmpty, "the committed corpus of \(target.rawValue) is missing")
        for name in files {
            let data = try #require(FileManager.default.contents(atPath: directory + "/" + name))
            target.run([UInt8](data))
        }
    }
}
