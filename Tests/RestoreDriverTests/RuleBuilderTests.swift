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
}
