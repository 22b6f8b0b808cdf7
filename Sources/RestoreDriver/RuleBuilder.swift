import KeyCodec
import BackupFormat

/// Derives a restore's rewrite rules: table-id rules from the backup's schemas (as BR does), explicit
/// prefix rules, or one inserted prefix. It also picks the rewrite mode: legacy (encoded prefixes,
/// TiKV's classic mode) when every rule is a table rule, keyspace (decode, rewrite, encode) otherwise.
public struct RuleBuilder: Sendable {
    /// Rules on user keys, used for range bounds and the checksum.
    public let userRules: RewriteRules
    /// Rules as the stores apply them: encoded prefixes in legacy mode, user-key prefixes otherwise.
    public let importRules: RewriteRules
    public let mode: KeyRewriter.Mode
    public let format: KeyRewriter.KeyFormat
    /// Old table id -> new table id.
    public let tableIDs: [Int64: Int64]
    /// The user rules in the order of their old prefixes, and by old prefix: a backup of many
    /// tables has as many rules, and a range's bounds need only the few it reaches.
    private let rulesByOldPrefix: [RewriteRule]
    private let ruleWithOldPrefix: [[UInt8]: RewriteRule]

    /// `highestTableIDInUse`: the largest table id already in the target cluster.
    public init(backup: Backup, options: RestoreOptions, highestTableIDInUse: Int64) throws(RestoreError) {
        format = backup.isRawKV ? .raw : .transactional
        // An incremental backup's versions are older than what the cluster may hold by now: BR
        // gives its restore a fresh timestamp (the rules' new_timestamp).
        if backup.startVersion != 0, !backup.isRawKV, options.newTimestamp == 0 {
            throw .rules("the backup is incremental (versions \(backup.startVersion) to \(backup.endVersion)): give --new-ts with a timestamp above every version in the cluster (BR takes one from PD's TSO), so that its rows are newer than what they update")
        }
        var rules: [RewriteRule] = []
        var ids: [Int64: Int64] = [:]
        let explicit = !options.prefixRules.isEmpty || options.insertPrefix != nil
        if !backup.isRawKV && !explicit {
            let physical = backup.tables.flatMap(\.physicalIDs).sorted()
            var next = max(highestTableIDInUse, physical.max() ?? 0, options.tableIDMap.values.max() ?? 0) + 1
            for id in physical {
                let new: Int64
                if let mapped = options.tableIDMap[id] { new = mapped } else {
                    // In a TiDB cluster the ids are TiDB's: BR creates the tables, then builds its
                    // rules from their new ids (tidb br/pkg/restore/snap_client/client.go
                    // CreateTables); a guessed id may collide with a table TiDB creates later.
                    guard options.guessTableIDs else {
                        let name = backup.tables.first { $0.physicalIDs.contains(id) }?.displayName ?? "table \(id)"
                        throw .rules("\(name) (id \(id)) has no new id: over --pd the ids come from TiDB; create the tables there, then give --table-id-map \(id):NEW,... with the ids TiDB gave them (Docs/OPERATOR-GUIDE.md, restoring into a TiDB cluster)")
                    }
                    new = next
                    next += 1
                }
                guard new > 0 else { throw .rules("table id \(id) maps to \(new); ids must be positive") }
                ids[id] = new
                rules.append(RewriteRule.table(from: id, to: new, newTimestamp: options.newTimestamp))
            }
            let unknown = Set(options.tableIDMap.keys).subtracting(physical)
            if let stray = unknown.min() { throw .rules("--table-id-map names table \(stray), which is not in the backup") }
            if Set(ids.values).count != ids.count { throw .rules("--table-id-map maps two tables to one id") }
        }
        rules += options.prefixRules.map { RewriteRule(oldPrefix: $0.oldPrefix, newPrefix: $0.newPrefix, newTimestamp: options.newTimestamp) }
        if let insert = options.insertPrefix { rules.append(RewriteRule(oldPrefix: [], newPrefix: insert, newTimestamp: options.newTimestamp)) }
        if rules.isEmpty, backup.isRawKV {
            rules.append(RewriteRule(oldPrefix: [], newPrefix: []))  // a raw restore to the same keys
        }
        do { userRules = try RewriteRules(rules) } catch { throw .rules(error.description) }
        if backup.isRawKV, options.newTimestamp != 0 { throw .rules("raw backups have no timestamps to rewrite") }
        tableIDs = ids

        let tableRulesOnly = !explicit
        switch (options.rewriteMode, format) {
        case (_, .raw): mode = .legacy
        case (.legacy, _):
            guard tableRulesOnly else { throw .rules("legacy mode swaps encoded table prefixes only; use --rewrite-mode keyspace for --rewrite or --prefix") }
            mode = .legacy
        case (.keyspace, _): mode = .keyspace
        case (.auto, _): mode = tableRulesOnly ? .legacy : .keyspace
        }
        rulesByOldPrefix = userRules.rules.sorted { keyLess($0.oldPrefix, $1.oldPrefix) }
        ruleWithOldPrefix = Dictionary(userRules.rules.map { ($0.oldPrefix, $0) }, uniquingKeysWith: { first, _ in first })
        if mode == .legacy, format == .transactional {
            do { importRules = try RewriteRules(rules.map(\.encoded)) } catch { throw .rules(error.description) }
        } else {
            importRules = userRules
        }
    }

    /// A user key in the restored key space, encoded as a region bound (without `z`).
    public func boundKey(_ userKey: [UInt8]) -> [UInt8] {
        format == .transactional ? Memcomparable.encode(userKey) : userKey
    }

    /// Rewrites a file's range bounds (raw user keys, end exclusive) into region bounds.
    public func rewriteRange(of file: BackupFile) throws(RestoreError) -> KeyRange {
        try rewriteRange(file.range, of: file.name)
    }

    /// Rewrites `range`, part of the file `name`, into region bounds: the smallest range that holds
    /// every key of `range` once rewritten. Rules need not keep the order of their prefixes (`a` to
    /// `y` and `b` to `x`), and a range may reach into several rules' prefixes, so each rule's part
    /// is rewritten and the parts' hull taken: a range from its ends' rewrites alone could be
    /// backwards (`[a1, b)` to `[y1, x)`) and hold none of its keys.
    public func rewriteRange(_ range: KeyRange, of name: String) throws(RestoreError) -> KeyRange {
        guard let startRule = userRules.rule(for: range.start) else { throw .missingRule(file: name, key: range.start) }
        if !range.end.isEmpty, userRules.rule(for: range.end) == nil, range.end != RewriteRule.prefixEnd(startRule.oldPrefix) {
            throw .missingRule(file: name, key: range.end)
        }
        var start: [UInt8]?, end: [UInt8]?  // an empty end: no bound
        for rule in rules(reaching: range) {
            let prefixEnd = RewriteRule.prefixEnd(rule.oldPrefix)
            // The part of `range` under the rule's old prefix, if any.
            let partStart = keyLess(range.start, rule.oldPrefix) ? rule.oldPrefix : range.start
            let endsInside = !range.end.isEmpty && (prefixEnd.isEmpty || keyLess(range.end, prefixEnd))
            let partEnd = endsInside ? range.end : prefixEnd
            guard partEnd.isEmpty || keyLess(partStart, partEnd) else { continue }
            let newStart = rule.apply(to: partStart)
            let newEnd = endsInside ? rule.apply(to: partEnd) : RewriteRule.prefixEnd(rule.newPrefix)
            if start.map({ keyLess(newStart, $0) }) ?? true { start = newStart }
            if let current = end, current.isEmpty || (!newEnd.isEmpty && !keyLess(current, newEnd)) { continue }
            end = newEnd
        }
        guard let newStart = start, let newEnd = end else {
            // No rule holds a key of the range (it is empty, `[k, k)`): so is its image.
            let at = boundKey(startRule.apply(to: range.start))
            return KeyRange(start: at, end: at)
        }
        return KeyRange(start: boundKey(newStart), end: newEnd.isEmpty ? [] : boundKey(newEnd))
    }

    /// The rules whose old prefix holds some key of `range`: those whose prefix `range.start`
    /// starts with, and those whose prefix lies inside the range.
    private func rules(reaching range: KeyRange) -> [RewriteRule] {
        var reached = (0...range.start.count).compactMap { ruleWithOldPrefix[Array(range.start[..<$0])] }
        let inside = rulesByOldPrefix.partitionPoint { !keyLess(range.start, $0.oldPrefix) }
        for rule in rulesByOldPrefix[inside...] {
            guard range.end.isEmpty || keyLess(rule.oldPrefix, range.end) else { break }
            reached.append(rule)
        }
        return reached
    }
}
