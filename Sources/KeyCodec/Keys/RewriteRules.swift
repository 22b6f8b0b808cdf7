/// A set of rewrite rules. For each key the rule with the longest matching old prefix wins; a key
/// that matches none is an error, never silently copied. Rules make no assumption about key format.
public struct RewriteRules: Sendable, Equatable {
    /// Longest old prefix first, so the first match is the winner.
    public let rules: [RewriteRule]
    /// `final[i]`: no other rule's old prefix extends rule i's, so a match of rule i needs no further search.
    let isFinal: [Bool]
    /// The same for new prefixes: a rewritten key that rule i produced belongs to no other rule.
    let isFinalNew: [Bool]

    public init(_ rules: [RewriteRule]) throws(RewriteError) {
        let sorted = rules.sorted {
            $0.oldPrefix.count != $1.oldPrefix.count ? $0.oldPrefix.count > $1.oldPrefix.count : keyLess($0.oldPrefix, $1.oldPrefix)
        }
        var seenOld: [[UInt8]: RewriteRule] = [:]
        var seenNew: [[UInt8]: RewriteRule] = [:]
        for rule in sorted {
            if let other = seenOld.updateValue(rule, forKey: rule.oldPrefix) { throw .conflictingRules(other, rule) }
            if let other = seenNew.updateValue(rule, forKey: rule.newPrefix) { throw .conflictingRules(other, rule) }
        }
        self.rules = sorted
        self.isFinal = Self.noneExtends(sorted, \.oldPrefix)
        self.isFinalNew = Self.noneExtends(sorted, \.newPrefix)
    }

    /// For each rule, whether no other rule's `prefix` extends its own.
    private static func noneExtends(_ rules: [RewriteRule], _ prefix: KeyPath<RewriteRule, [UInt8]>) -> [Bool] {
        rules.map { rule in
            !rules.contains { $0[keyPath: prefix].count > rule[keyPath: prefix].count && $0[keyPath: prefix].starts(with: rule[keyPath: prefix]) }
        }
    }

    private init(sorted rules: [RewriteRule], isFinal: [Bool], isFinalNew: [Bool]) {
        self.rules = rules
        self.isFinal = isFinal
        self.isFinalNew = isFinalNew
    }

    /// The same rules in buffers of their own. Rules come in one request to every store, so the
    /// threads that rewrite or check its keys would otherwise count references on the same
    /// arrays for every key: atomic writes to cache lines that the cores pass back and forth.
    public func unshared() -> RewriteRules {
        func fresh<T>(_ array: [T]) -> [T] { array.withUnsafeBufferPointer { Array($0) } }
        return RewriteRules(
            sorted: rules.map { RewriteRule(oldPrefix: fresh($0.oldPrefix), newPrefix: fresh($0.newPrefix), newTimestamp: $0.newTimestamp) },
            isFinal: fresh(isFinal), isFinalNew: fresh(isFinalNew))
    }

    public var isEmpty: Bool { rules.isEmpty }

    /// Index into `rules` of the rule for `key`, trying `hint` first (consecutive keys of a file
    /// nearly always share a rule).
    public func ruleIndex(for key: some Collection<UInt8>, hint: Int? = nil) -> Int? {
        if let h = hint, h < rules.count, isFinal[h], rules[h].matches(key) { return h }
        return rules.firstIndex { $0.matches(key) }
    }

    public func rule(for key: some Collection<UInt8>) -> RewriteRule? {
        ruleIndex(for: key).map { rules[$0] }
    }

    public func rewriteKey(_ key: [UInt8]) throws(RewriteError) -> [UInt8] {
        guard let rule = rule(for: key) else { throw .wrongKeyPrefix(key: key) }
        return rule.apply(to: key)
    }

    /// Index into `rules` of the rule whose new prefix is the longest one that `rewrittenKey`
    /// starts with, trying `hint` first (consecutive keys read back nearly always share a rule).
    public func ruleIndex(forRewritten rewrittenKey: some Collection<UInt8>, hint: Int? = nil) -> Int? {
        if let h = hint, h < rules.count, isFinalNew[h], rules[h].produced(rewrittenKey) { return h }
        var best: Int?
        for i in rules.indices where rules[i].newPrefix.count > best.map({ rules[$0].newPrefix.count }) ?? -1 && rules[i].produced(rewrittenKey) {
            best = i
        }
        return best
    }

    /// The rule whose new prefix is the longest one that `rewrittenKey` starts with.
    public func rule(forRewritten rewrittenKey: some Collection<UInt8>) -> RewriteRule? {
        ruleIndex(forRewritten: rewrittenKey).map { rules[$0] }
    }

    /// The key before the rewrite: the new prefix replaced by the old one.
    public func undoRewriteKey(_ rewrittenKey: [UInt8]) throws(RewriteError) -> [UInt8] {
        var key: [UInt8] = [], hint: Int?
        try undoRewriteKey(rewrittenKey, into: &key, hint: &hint)
        return key
    }

    /// The key before the rewrite into `key` (cleared first), for a caller that reuses its buffer;
    /// `hint` is the rule of the caller's last key, and becomes this key's.
    public func undoRewriteKey(_ rewrittenKey: [UInt8], into key: inout [UInt8], hint: inout Int?) throws(RewriteError) {
        guard let index = ruleIndex(forRewritten: rewrittenKey, hint: hint) else { throw .notRewritten(key: rewrittenKey) }
        hint = index
        let rule = rules[index]
        key.removeAll(keepingCapacity: true)
        key.append(contentsOf: rule.oldPrefix)
        key.append(contentsOf: rewrittenKey[rule.newPrefix.count...])
    }

    /// Every rule whose rewritten keys can fall in `newRange`, with the old-key range that maps there.
    public func oldRanges(for newRange: KeyRange) -> [(rule: RewriteRule, range: KeyRange)] {
        rules.compactMap { rule in rule.oldRange(for: newRange).map { (rule, $0) } }
    }
}
