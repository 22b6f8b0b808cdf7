import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ClusterAPI
@testable import EmbeddedCluster

/// `SSTRewriter` directly: the old-key bounds that a region maps back to, and the fast path that
/// takes a file as it is.
@Suite struct SSTRewriterTests {
    static let rules = try! RewriteRules([
        RewriteRule(oldPrefix: bytes("a/"), newPrefix: bytes("x/")),
        RewriteRule(oldPrefix: bytes("b/"), newPrefix: bytes("y/")),
    ])

    /// (region start, region end, seek, stop; nil stop: to the end of the file)
    @Test(arguments: [
        ("x/5", "y/3", "a/5", "b/3"),  // both rules' parts: from the first's start to the second's end
        ("x/5", "x/7", "a/5", "a/7"),  // inside one rule
        ("x/5", "", "a/5", "b0"),  // unbounded region: each rule's part ends with its prefix
        ("", "x/", "", ""),  // ends where the first rule starts: nothing maps into it
        ("y/", "y0", "b/", "b0"),  // exactly the second rule
    ] as [(String, String, String, String?)])
    func oldBoundsMapTheRegionBackThroughTheRules(start: String, end: String, seek: String, stop: String?) {
        let rewriter = SSTRewriter(rules: Self.rules, mode: .legacy, format: .raw, cf: .default)
        let bounds = rewriter.oldBounds(KeyRange(start: bytes(start), end: bytes(end)))
        #expect(bounds.seek == bytes(seek))
        #expect(bounds.stop == stop.map(bytes))
    }

    @Test func aRegionOutsideEveryRuleMapsToNothing() {
        let rewriter = SSTRewriter(rules: Self.rules, mode: .legacy, format: .raw, cf: .default)
        let bounds = rewriter.oldBounds(KeyRange(start: bytes("z"), end: []))
        #expect(bounds.seek.isEmpty && bounds.stop == [])
    }

    func writeSST(_ path: String, keys: [String]) throws {
        let writer = try SSTWriter(path: path)
        for key in keys { try writer.put(key: DataKey.make(bytes(key)), value: bytes("v-" + key)) }
        _ = try writer.finish()
    }

    @Test func identicalPrefixesInsideTheRegionTakeTheFileAsItIs() throws {
        let dir = try TemporaryDirectory()
        let source = dir.file("in.sst"), destination = dir.file("out.sst")
        try writeSST(source, keys: ["a/1", "a/2", "a/3"])
        let original = try #require(FileManager.default.contents(atPath: source))
        let same = try RewriteRules([RewriteRule(oldPrefix: bytes("a/"), newPrefix: bytes("a/"))])
        let result = try SSTRewriter(rules: same, mode: .legacy, format: .raw, cf: .default)
            .rewrite(source: source, destination: destination, name: "in.sst", region: KeyRange(start: bytes("a/"), end: bytes("a0")))
        #expect(result?.entries == 3)
        #expect(result?.firstKey == bytes("a/1") && result?.lastKey == bytes("a/3"))
        #expect(!FileManager.default.fileExists(atPath: source), "renamed, not copied")
        #expect(FileManager.default.contents(atPath: destination) == original)
    }

    @Test func aFileThatCrossesTheRegionIsRewrittenNotRenamed() throws {
        let dir = try TemporaryDirectory()
        let source = dir.file("in.sst"), destination = dir.file("out.sst")
        try writeSST(source, keys: ["a/1", "a/2", "a/3"])
        let same = try RewriteRules([RewriteRule(oldPrefix: bytes("a/"), newPrefix: bytes("a/"))])
        let result = try SSTRewriter(rules: same, mode: .legacy, format: .raw, cf: .default)
            .rewrite(source: source, destination: destination, name: "in.sst", region: KeyRange(start: bytes("a/2"), end: bytes("a0")))
        #expect(result?.entries == 2, "only the keys inside the region")
        #expect(FileManager.default.fileExists(atPath: source))
        let reader = try SSTReader(path: destination)
        #expect(try reader.firstKey == DataKey.make(bytes("a/2")))
    }

    /// A batch's files merged into one SST, in key order, each key once: files that overlap (more
    /// than a merge reads at once, so through intermediate files) and files that do not.
    @Test(arguments: [1, 2, 3, 7, 12]) func aBatchMergesIntoOneSSTInKeyOrder(files: Int) throws {
        let dir = try TemporaryDirectory()
        var sources: [SSTRewriter.Source] = []
        var expected = Set<String>()
        for i in 0..<files {
            // Interleaved keys (every file overlaps the others), one key in every file, and a
            // disjoint run of keys of its own after them all.
            var keys = stride(from: i, to: 60, by: files).map { String(format: "a/%03d", $0) } + ["a/030"]
            keys += (0..<5).map { String(format: "a/9%02d", i * 5 + $0) }
            keys = Array(Set(keys)).sorted()
            expected.formUnion(keys)
            try writeSST(dir.file("\(i).sst"), keys: keys)
            sources.append(SSTRewriter.Source(path: dir.file("\(i).sst"), name: "\(i).sst"))
        }
        let rewriter = SSTRewriter(rules: Self.rules, mode: .legacy, format: .raw, cf: .default)
        let out = dir.file("merged.sst")
        let result = try #require(try rewriter.merge(sources, into: out, region: KeyRange(start: bytes("x/"), end: bytes("x/950"))))
        let inRegion = expected.filter { $0 < "a/950" }.sorted().map { "x/" + $0.dropFirst(2) }
        var read: [String] = []
        try SSTReader(path: out).scan { key, value in
            read.append(String(decoding: key.dropFirst(), as: UTF8.self))
            #expect(String(decoding: value, as: UTF8.self) == "v-a/" + String(decoding: key.dropFirst(3), as: UTF8.self))
            return true
        }
        #expect(read == inRegion)
        #expect(result.entries == UInt64(inRegion.count))
        #expect(result.firstKey == bytes(inRegion.first!) && result.lastKey == bytes(inRegion.last!))
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".merge") }
        #expect(left.isEmpty, "intermediate files are removed: \(left)")
    }

    /// Files that do not overlap, given in key order (read one after another) or not (merged).
    @Test(arguments: [false, true]) func disjointFilesMergeInKeyOrderWhateverTheirOrder(reversed: Bool) throws {
        let dir = try TemporaryDirectory()
        var sources: [SSTRewriter.Source] = []
        for i in 0..<5 {
            try writeSST(dir.file("\(i).sst"), keys: (0..<10).map { String(format: "a/%d%02d", i, $0) })
            sources.append(SSTRewriter.Source(path: dir.file("\(i).sst"), name: "\(i).sst"))
        }
        if reversed { sources.reverse() }
        let rewriter = SSTRewriter(rules: Self.rules, mode: .legacy, format: .raw, cf: .default)
        let out = dir.file("merged.sst")
        let result = try #require(try rewriter.merge(sources, into: out, region: KeyRange(start: bytes("x/"), end: bytes("y/"))))
        var read: [String] = []
        try SSTReader(path: out).scan { key, _ in
            read.append(String(decoding: key.dropFirst(), as: UTF8.self))
            return true
        }
        #expect(read == (0..<5).flatMap { i in (0..<10).map { String(format: "x/%d%02d", i, $0) } })
        #expect(result.entries == 50)
    }
}
