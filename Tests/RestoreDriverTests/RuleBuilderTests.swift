import Testing
@testable import KeyCodec
@testable import BackupFormat
@testable import RestoreDriver

/// A backup range rewritten into region bounds holds every key of the range once rewritten,
/// whatever order the rules give the prefixes.
struct RuleBuilderTests {
    func key(_ text: String) -> [UInt8] { Array(text.utf8) }

    func rawRules(_ pairs: [(old: String, new: String)]) throws -> RuleBuilder {
        var options = RestoreOptions()
        options.prefixRules = pairs.map { RewriteRule(oldPrefix: key($0.old), newPrefix: key($0.new)) }
        let backup = Backup(metaVersion: 1, endVersion: 1, isRawKV: true, files: [], tables: [])
        return try RuleBuilder(backup: backup, options: options, highestTableIDInUse: 0)
    }

    func range(_ start: String, _ end: String) -> KeyRange { KeyRange(start: key(start), end: key(end)) }

    @Test func rulesThatSwapThePrefixesOrderGiveARangeThatHoldsItsKeys() throws {
        let rules = try rawRules([("a", "y"), ("b", "x")])
        // Every key of [a1, b) is under `a`: its end, `b`, is where the other rule starts.
        #expect(try rules.rewriteRange(range("a1", "b"), of: "f") == range("y1", "z"))
        // A range that reaches into both prefixes holds both images.
        let both = try rules.rewriteRange(range("a5", "b5"), of: "f")
        #expect(both == range("x", "z"))
        for old in ["a5", "a9\u{7f}", "b", "b4"] {
            #expect(both.contains(try rules.userRules.rewriteKey(key(old))), "\(old)")
        }
    }

    @Test func rulesThatKeepTheOrderRewriteTheEnds() throws {
        let rules = try rawRules([("a", "x"), ("b", "y")])
        #expect(try rules.rewriteRange(range("a1", "a9"), of: "f") == range("x1", "x9"))
        // An empty range (a backupmeta may give start = end) stays empty, where its start goes.
        #expect(try rules.rewriteRange(range("a1", "a1"), of: "f") == range("x1", "x1"))
        #expect(try rules.rewriteRange(range("a1", "b"), of: "f") == range("x1", "y"))
        #expect(try rules.rewriteRange(range("a1", "b5"), of: "f") == range("x1", "y5"))
        #expect(throws: RestoreError.self) { try rules.rewriteRange(range("a1", "c5"), of: "f") }
        #expect(throws: RestoreError.self) { try rules.rewriteRange(range("c1", "c5"), of: "f") }
    }

    @Test func anInsertedPrefixAndAMoreSpecificRuleBothFitTheRange() throws {
        let rules = try rawRules([("", "ks/"), ("t1", "z9")])
        let rewritten = try rules.rewriteRange(range("a", "u"), of: "f")
        for old in ["a", "m", "t1", "t1zzz", "t2", "tz"] {
            #expect(rewritten.contains(try rules.userRules.rewriteKey(key(old))), "\(old)")
        }
    }

    /// Two file sets whose new ranges touch merge into one range only under one rule: a batch is
    /// rewritten in old-key order, which two rules need not keep. `[a1, b)` and `[b, b5)` land on
    /// `[x1, y)` and `[y, y5)` under `a -> x, b -> y`, and on `[k/a1, k/b)` and `[k/b, k/b5)` under one
    /// inserted prefix.
    @Test func aMergedRangeKeepsToOneRule() throws {
        let files = [("1.sst", "a1", "b"), ("2.sst", "b", "b5")].map { name, start, end in
            BackupFile(name: name, sha256: [1], startKey: key(start), endKey: key(end), endVersion: 9, checksum: KVChecksum(), cf: .default, size: 4096)
        }
        let backup = Backup(metaVersion: 1, endVersion: 1, isRawKV: true, files: files, tables: [])
        let twoRules = try RestorePlan(backup: backup, rules: try rawRules([("a", "x"), ("b", "y")]), mergeSize: 1 << 30)
        #expect(twoRules.fileSets.map(\.newRange) == [range("x1", "y"), range("y", "y5")])
        #expect(twoRules.ranges.map(\.fileSets) == [[0], [1]])
        let oneRule = try RestorePlan(backup: backup, rules: try rawRules([("", "k/")]), mergeSize: 1 << 30)
        #expect(oneRule.ranges.map(\.fileSets) == [[0, 1]], "touching sets under one rule merge")
    }
}
