import Foundation
import KeyCodec
import ExternalStorage
import BackupFormat
import ClusterAPI

/// The check at the end of a restore as BR takes it (tidb br/pkg/checksum/executor.go): for each
/// rewrite rule, every region over the rule's new keys is asked for its checksum on its leader, with
/// the rule's prefixes so that the store folds the keys in as the backup had them; the sums are
/// compared with the backup's figures per table (a table rule's rows and indexes, as BR asks for
/// the record range and each index's) or per rule.
public struct RegionChecksumVerifier: Sendable {
    let cluster: any RegionChecksumming
    let rules: RuleBuilder
    let expectation: ChecksumExpectation
    /// The snapshot the regions are read at: newer than every restored version.
    let readTS: UInt64
    /// Regions asked at once (TiDB's distsql scan concurrency, `tidb_distsql_scan_concurrency`: 15).
    var width = 15
    /// How often, and after what pauses, a part is asked again.
    let retry: RetryPolicy
    /// Told of each part asked again: its region and what the last try met.
    let onRetry: @Sendable (_ region: UInt64, ImportError) -> Void

    /// One request's worth: a rule's new keys, or the part of them no narrower rule claims.
    struct Job: Sendable {
        /// The restore's rule that the keys belong to.
        var rule: RewriteRule
        /// The prefixes the store swaps: the rule's, or a table rule's narrowed to rows or indexes.
        var prefixes: RewriteRule
        /// User keys, end exclusive (empty: unbounded).
        var range: KeyRange
        var scanOn: RegionChecksumRequest.ScanOn
    }

    public func verify() async throws -> ChecksumVerifier.Report {
        // Four jobs at a time, each `width` regions at a time; sums fold in any order.
        let sums = await BoundedConcurrency.map(Self.jobs(for: rules), width: 4) { job -> (RewriteRule, Result<KVChecksum, any Error>) in
            do { return (job.rule, .success(try await checksum(of: job))) } catch { return (job.rule, .failure(error)) }
        }
        var perRule: [RewriteRule: KVChecksum] = [:]
        for (rule, sum) in sums { perRule[rule, default: KVChecksum()].merge(try sum.get()) }
        return report(perRule: perRule)
    }

    /// Compares per table (the rules that move tables) and per explicit rule.
    private func report(perRule: [RewriteRule: KVChecksum]) -> ChecksumVerifier.Report {
        var perTable: [Int64: KVChecksum] = [:]
        var mismatches: [ChecksumVerifier.Mismatch] = []
        for rule in rules.userRules.rules {
            let restored = perRule[rule] ?? KVChecksum()
            if let table = TableCodec.decode(rule.oldPrefix)?.tableID, rules.tableIDs[table] != nil {
                perTable[table, default: KVChecksum()].merge(restored)
                continue
            }
            let sets = expectation.plan.fileSets.filter { rules.userRules.rule(for: $0.oldRange.start) == rule }
            let wanted = sets.reduce(into: KVChecksum()) { $0.merge(expectation.of($1)) }
            if restored != wanted {
                mismatches.append(.init(scope: "keys of rule \(rule)", expected: wanted, actual: restored, tables: Set(sets.compactMap(\.tableID))))
            }
        }
        // Table rules move every table or none (RuleBuilder): without them, the rules are compared.
        if !rules.tableIDs.isEmpty { mismatches += expectation.tableMismatches(actual: perTable) }
        return ChecksumVerifier.Report(total: perRule.values.reduce(into: KVChecksum()) { $0.merge($1) }, expected: expectation.total, mismatches: mismatches)
    }

    /// A job's sum over the regions that hold its keys, up to `width` regions at a time.
    private func checksum(of job: Job) async throws -> KVChecksum {
        let range = KeyRange(start: rules.boundKey(job.range.start), end: job.range.end.isEmpty ? [] : rules.boundKey(job.range.end))
        return try await checksum(job, over: range, attempt: 1)
    }

    /// The sum over `range` (region bounds): each region's part asked of its leader; a part whose
    /// region moved, split or lost its leader is asked again, its regions read anew.
    private func checksum(_ job: Job, over range: KeyRange, attempt: Int) async throws -> KVChecksum {
        let parts = try await tile(range)
        let results = await BoundedConcurrency.map(parts, width: width) { (region, part) -> Result<KVChecksum, any Error> in
            do { return .success(try await ask(job, region, part, attempt: attempt)) } catch { return .failure(error) }
        }
        var sum = KVChecksum()
        for result in results { sum.merge(try result.get()) }
        return sum
    }

    /// `range` cut at region bounds, each piece with its region; the regions must cover it whole,
    /// or a piece would go unread.
    private func tile(_ range: KeyRange) async throws -> [(Region, KeyRange)] {
        var parts: [(Region, KeyRange)] = []
        var next = range.start
        for region in await cluster.regions(overlapping: range) {
            guard !keyLess(next, region.startKey) else { break }
            let part = RestoreEngine.clip(range, to: region.range)
            parts.append((region, part))
            next = part.end
            if next.isEmpty { break }
        }
        let covered = next.isEmpty || (!range.end.isEmpty && !keyLess(next, range.end))
        guard covered else { throw RestoreError.checksum("no region holds \(KeyDescription(next).summary) as PD lists them: the checksum cannot read it") }
        return parts
    }

    /// One request to the region's leader. A region error, a store that is down or busy, is
    /// retried with a growing pause, as BR's checksum backoffer does (tidb br/pkg/utils/backoff.go).
    private func ask(_ job: Job, _ region: Region, _ part: KeyRange, attempt: Int) async throws -> KVChecksum {
        do throws(ImportError) {
            let leader: PeerMeta
            if let known = await cluster.leader(of: region.id) {
                leader = known
            } else {
                do { leader = try await cluster.waitForLeader(of: region.id, timeout: .seconds(10)) } catch { throw .region(error) }
            }
            let request = RegionChecksumRequest(
                regionID: region.id, epoch: region.epoch, peer: leader, ranges: [try userRange(part, of: region)], readTS: readTS,
                oldPrefix: job.prefixes.oldPrefix, newPrefix: job.prefixes.newPrefix, scanOn: job.scanOn)
            return try await cluster.checksum(request)
        } catch where error.isRetryable && attempt < retry.attempts {
            onRetry(region.id, error)
            var pause = retry.backoff(attempt: attempt)
            if case let .region(.serverIsBusy(_, _, backoff)) = error, backoff > 0 { pause = max(pause, .milliseconds(backoff)) }
            try await Task.sleep(for: pause)
            return try await checksum(job, over: part, attempt: attempt + 1)
        } catch {
            throw RestoreError.checksum("region \(region.id), \(job.scanOn == .index ? "indexes" : "keys") of rule \(job.prefixes): \(error)")
        }
    }

    /// A part's bounds as the coprocessor takes them: user keys, not encoded.
    private func userRange(_ part: KeyRange, of region: Region) throws(ImportError) -> KeyRange {
        guard rules.format == .transactional else { return part }
        do {
            return KeyRange(start: try Memcomparable.decode(part.start).key, end: part.end.isEmpty ? [] : try Memcomparable.decode(part.end).key)
        } catch {
            throw .invalidRequest(reason: "region \(region.id)'s bound is not an encoded key: \(error)")
        }
    }

    /// The requests for `rules`: a table rule's rows and its indexes apart, as BR asks for them;
    /// any other rule's new keys, less those that a rule with a longer new prefix claims (the
    /// undo of a rewrite takes the longest new prefix).
    static func jobs(for rules: RuleBuilder) -> [Job] {
        let all = rules.userRules.rules
        var jobs: [Job] = []
        for rule in all {
            if let table = TableCodec.decode(rule.oldPrefix)?.tableID, let new = rules.tableIDs[table], rule == .table(from: table, to: new, newTimestamp: rule.newTimestamp) {
                for (separator, scanOn) in [("_r", RegionChecksumRequest.ScanOn.table), ("_i", .index)] {
                    let narrowed = RewriteRule(oldPrefix: TableCodec.tablePrefix(table) + Array(separator.utf8), newPrefix: TableCodec.tablePrefix(new) + Array(separator.utf8))
                    jobs.append(Job(rule: rule, prefixes: narrowed, range: KeyRange(start: narrowed.newPrefix, end: RewriteRule.prefixEnd(narrowed.newPrefix)), scanOn: scanOn))
                }
                continue
            }
            let inner = all.filter { $0.newPrefix.count > rule.newPrefix.count && $0.newPrefix.starts(with: rule.newPrefix) }
                .map { KeyRange(start: $0.newPrefix, end: RewriteRule.prefixEnd($0.newPrefix)) }
            for range in subtract(inner, from: KeyRange(start: rule.newPrefix, end: RewriteRule.prefixEnd(rule.newPrefix))) {
                jobs.append(Job(rule: rule, prefixes: rule, range: range, scanOn: .table))
            }
        }
        return jobs
    }

    /// `whole` less `holes` (each inside it), in key order.
    static func subtract(_ holes: [KeyRange], from whole: KeyRange) -> [KeyRange] {
        var out: [KeyRange] = []
        var start = whole.start
        for hole in holes.sorted(by: { keyLess($0.start, $1.start) }) {
            if keyLess(start, hole.start) { out.append(KeyRange(start: start, end: hole.start)) }
            if hole.end.isEmpty { return out }
            if keyLess(start, hole.end) { start = hole.end }
        }
        if whole.end.isEmpty || keyLess(start, whole.end) { out.append(KeyRange(start: start, end: whole.end)) }
        return out
    }
}
