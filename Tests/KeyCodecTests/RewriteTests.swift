import PropertyBased
import Testing
@testable import TestSupport
@testable import KeyCodec

@Suite struct RewriteTests {
    let t1 = RewriteRule.table(from: 1, to: 9)
    let t2 = RewriteRule.table(from: 2, to: 8)

    @Test func severalRulesEachMoveTheirTable() throws {
        let rules = try RewriteRules([t1, t2])
        #expect(try rules.rewriteKey(TableCodec.recordKey(tableID: 1, handle: 7)) == TableCodec.recordKey(tableID: 9, handle: 7))
        #expect(try rules.rewriteKey(TableCodec.recordKey(tableID: 2, handle: 7)) == TableCodec.recordKey(tableID: 8, handle: 7))
        let index = TableCodec.indexKey(tableID: 2, indexID: 3, encodedValues: TableCodec.intDatum(4))
        #expect(try rules.rewriteKey(index) == TableCodec.indexKey(tableID: 8, indexID: 3, encodedValues: TableCodec.intDatum(4)))
    }

    @Test func aKeyOutsideEveryRuleIsWrongKeyPrefix() throws {
        let rules = try RewriteRules([t1, t2])
        let stray = TableCodec.recordKey(tableID: 3, handle: 1)
        #expect(throws: RewriteError.wrongKeyPrefix(key: stray)) { try rules.rewriteKey(stray) }
        #expect(throws: RewriteError.wrongKeyPrefix(key: bytes("x"))) { try RewriteRules([]).rewriteKey(bytes("x")) }
    }

    @Test func theLongestOldPrefixWins() throws {
        let rules = try RewriteRules([
            RewriteRule(oldPrefix: bytes("a"), newPrefix: bytes("X")),
            RewriteRule(oldPrefix: bytes("ab"), newPrefix: bytes("Y")),
        ])
        #expect(try rules.rewriteKey(bytes("abc")) == bytes("Yc"))
        #expect(try rules.rewriteKey(bytes("acd")) == bytes("Xcd"))
        // The hint must not make a shorter rule win over a longer one.
        let shortIndex = rules.ruleIndex(for: bytes("acd"))!
        #expect(rules.rules[rules.ruleIndex(for: bytes("abz"), hint: shortIndex)!].newPrefix == bytes("Y"))
    }

    @Test func anEmptyOldPrefixInsertsBeforeEveryKey() throws {
        let rules = try RewriteRules([RewriteRule(oldPrefix: [], newPrefix: bytes("ks1/"))])
        #expect(try rules.rewriteKey(bytes("anything")) == bytes("ks1/anything"))
        #expect(try rules.rewriteKey([]) == bytes("ks1/"))
        #expect(try rules.undoRewriteKey(bytes("ks1/anything")) == bytes("anything"))
    }

    @Test func conflictingRulesAreRejected() {
        let a = RewriteRule(oldPrefix: bytes("a"), newPrefix: bytes("X"))
        let b = RewriteRule(oldPrefix: bytes("a"), newPrefix: bytes("Y"))
        #expect(throws: RewriteError.self) { try RewriteRules([a, b]) }
        let c = RewriteRule(oldPrefix: bytes("c"), newPrefix: bytes("X"))
        #expect(throws: RewriteError.self) { try RewriteRules([a, c]) }
    }

    @Test func undoRewriteKeyInvertsRewriteKey() async throws {
        let rules = try RewriteRules([t1, t2, RewriteRule(oldPrefix: bytes("u"), newPrefix: bytes("vv"))])
        await propertyCheck(count: 300, input: Gen.uint8().array(of: 0...12), Gen.int(in: 0...2)) { suffix, which in
            let prefix = [TableCodec.tablePrefix(1) + [UInt8(ascii: "_")], TableCodec.tablePrefix(2) + [UInt8(ascii: "_")], bytes("u")][which]
            let key = prefix + suffix
            #expect((try? rules.undoRewriteKey(rules.rewriteKey(key))) == key)
        }
        #expect(throws: RewriteError.notRewritten(key: bytes("zz"))) { try rules.undoRewriteKey(bytes("zz")) }
    }

    @Test func undoIntoAReusedBufferAndUnsharedRulesAgree() throws {
        let rules = try RewriteRules([t1, t2, RewriteRule(oldPrefix: [], newPrefix: bytes("ks/"))])
        let copy = rules.unshared()
        #expect(copy == rules)
        // The copy's buffers are its own: none is the original's.
        for (a, b) in zip(rules.rules, copy.rules) {
            #expect(a.newPrefix.withUnsafeBufferPointer { $0.baseAddress } != b.newPrefix.withUnsafeBufferPointer { $0.baseAddress })
        }
        var buffer = bytes("left over from the key before, longer than any key below")
        var hint: Int?
        for key in [TableCodec.tablePrefix(1) + bytes("_r1"), TableCodec.tablePrefix(2) + bytes("_"), bytes("raw")] {
            let rewritten = try rules.rewriteKey(key)
            try copy.undoRewriteKey(rewritten, into: &buffer, hint: &hint)
            #expect(buffer == key)
            #expect(try rules.undoRewriteKey(rewritten) == key)
        }
    }

    /// The rule of the key before is tried first, but never wins over a rule with a longer new
    /// prefix that the key also starts with.
    @Test func aHintNeverWinsOverALongerNewPrefix() throws {
        let rules = try RewriteRules([RewriteRule(oldPrefix: bytes("a"), newPrefix: bytes("ks/")), RewriteRule(oldPrefix: bytes("b"), newPrefix: bytes("ks/x"))])
        var buffer: [UInt8] = [], hint: Int?
        for (rewritten, old) in [("ks/1", "a1"), ("ks/x2", "b2"), ("ks/3", "a3"), ("ks/x4", "b4"), ("ks/x5", "b5"), ("ks/6", "a6")] {
            try rules.undoRewriteKey(bytes(rewritten), into: &buffer, hint: &hint)
            #expect(buffer == bytes(old), "\(rewritten)")
            #expect(rules.rules[hint!].newPrefix == (old.first == "a" ? bytes("ks/") : bytes("ks/x")))
        }
        #expect(throws: RewriteError.notRewritten(key: bytes("k"))) { try rules.undoRewriteKey(bytes("k"), into: &buffer, hint: &hint) }
    }

    @Test func rangeBoundsMapBackToOldKeys() throws {
        let new = { (h: Int64) in TableCodec.recordKey(tableID: 9, handle: h) }
        let old = { (h: Int64) in TableCodec.recordKey(tableID: 1, handle: h) }
        // Inside the new prefix: both ends map one to one, inclusiveness kept.
        #expect(t1.oldRange(for: KeyRange(start: new(5), end: new(9))) == KeyRange(start: old(5), end: old(9)))
        #expect(t1.oldRange(for: KeyRange(start: new(5), end: new(9), endInclusive: true)) == KeyRange(start: old(5), end: old(9), endInclusive: true))
        // A region that starts before the table and ends after it covers the whole old table.
        let whole = t1.oldRange(for: KeyRange(start: TableCodec.tablePrefix(5), end: TableCodec.tablePrefix(10)))
        #expect(whole == KeyRange(start: t1.oldPrefix, end: RewriteRule.prefixEnd(t1.oldPrefix)))
        // Unbounded end.
        #expect(t1.oldRange(for: KeyRange(start: new(5), end: [])) == KeyRange(start: old(5), end: RewriteRule.prefixEnd(t1.oldPrefix)))
        // Regions entirely before or after the new table map to nothing.
        #expect(t1.oldRange(for: KeyRange(start: TableCodec.tablePrefix(2), end: TableCodec.tablePrefix(3))) == nil)
        #expect(t1.oldRange(for: KeyRange(start: TableCodec.tablePrefix(10), end: [])) == nil)
        // An empty old prefix maps to an unbounded old range.
        let insert = RewriteRule(oldPrefix: [], newPrefix: bytes("p/"))
        #expect(insert.oldRange(for: KeyRange(start: bytes("p/b"), end: bytes("q"))) == KeyRange(start: bytes("b"), end: []))
        // With several rules, each rule gets its own part of the range.
        let rules = try RewriteRules([t1, t2])
        let parts = rules.oldRanges(for: KeyRange(start: TableCodec.tablePrefix(8), end: new(3)))
        #expect(parts.count == 2)
    }

    @Test func prefixEnd() {
        #expect(RewriteRule.prefixEnd(bytes("ab")) == bytes("ac"))
        #expect(RewriteRule.prefixEnd([0x61, 0xFF]) == [0x62])
        #expect(RewriteRule.prefixEnd([0xFF, 0xFF]) == [])
        #expect(RewriteRule.prefixEnd([]) == [])
    }

    // MARK: data keys in SST files

    func txnDataKey(_ userKey: [UInt8], ts: UInt64) -> [UInt8] {
        DataKey.make(MVCCKey(userKey: userKey, timestamp: ts).encoded)
    }

    @Test func legacyModeSwapsEncodedPrefixes() throws {
        var rewriter = try KeyRewriter(rules: RewriteRules([t1.encoded, t2.encoded]), mode: .legacy, format: .transactional)
        for handle: Int64 in [0, 7, 1 << 40, -3] {
            let key = txnDataKey(TableCodec.recordKey(tableID: 1, handle: handle), ts: 42)
            #expect(try rewriter.rewrite(dataKey: key) == txnDataKey(TableCodec.recordKey(tableID: 9, handle: handle), ts: 42))
        }
        let stray = txnDataKey(TableCodec.recordKey(tableID: 3, handle: 1), ts: 42)
        #expect(throws: RewriteError.self) { try rewriter.rewrite(dataKey: stray) }
    }

    @Test func keyspaceModeHandlesPrefixesOfAnyLength() throws {
        let rule = RewriteRule(oldPrefix: bytes("t1_"), newPrefix: bytes("tenant-0042/t1_"))
        var rewriter = try KeyRewriter(rules: RewriteRules([rule]), mode: .keyspace, format: .transactional)
        let key = txnDataKey(bytes("t1_row-000017"), ts: 99)
        #expect(try rewriter.rewrite(dataKey: key) == txnDataKey(bytes("tenant-0042/t1_row-000017"), ts: 99))
        // A key that is not valid memcomparable is malformed, not silently copied.
        #expect(throws: RewriteError.self) { try rewriter.rewrite(dataKey: DataKey.make(bytes("t1_garbage-bytes"))) }
    }

    @Test func timestampRewriteInBothModes() throws {
        let rule = RewriteRule.table(from: 1, to: 9, newTimestamp: 777)
        let key = txnDataKey(TableCodec.recordKey(tableID: 1, handle: 5), ts: 42)
        let expected = txnDataKey(TableCodec.recordKey(tableID: 9, handle: 5), ts: 777)
        var legacy = try KeyRewriter(rules: RewriteRules([rule.encoded]), mode: .legacy, format: .transactional)
        var keyspace = try KeyRewriter(rules: RewriteRules([rule]), mode: .keyspace, format: .transactional)
        #expect(try legacy.rewrite(dataKey: key) == expected)
        #expect(try keyspace.rewrite(dataKey: key) == expected)
    }

    @Test func rawKeysSpliceBytesAndRefuseTimestamps() throws {
        var rewriter = try KeyRewriter(
            rules: RewriteRules([RewriteRule(oldPrefix: [], newPrefix: bytes("P"))]), mode: .keyspace, format: .raw)
        #expect(try rewriter.rewrite(dataKey: bytes("zkey")) == bytes("zPkey"))
        #expect(throws: RewriteError.self) {
            try KeyRewriter(rules: RewriteRules([RewriteRule(oldPrefix: [], newPrefix: bytes("P"), newTimestamp: 5)]), mode: .legacy, format: .raw)
        }
        #expect(throws: RewriteError.self) { try rewriter.rewrite(dataKey: bytes("key")) }
    }
}
