import ClusterAPI
import ExternalStorage

/// What the checksum found.
public enum ChecksumVerdict: Sendable, Equatable {
    /// Every figure matched, or the checksum was skipped (said in the log).
    case matched
    case mismatched
    /// The figures could not be read (a store down through every retry, no region for a key):
    /// the data may well be whole, and `verify` takes the checksum again.
    case unread(String)
}

/// The checksum stage: after every region is in, the restored data is read back (undoing the
/// rewrite) and compared with the backup's figures. An embedded cluster's stores are read here,
/// file by file; any other cluster is asked, as BR asks TiKV, for each region's checksum on its
/// leader. A raw backup over the wire is not checked, as BR checks none.
extension RestoreEngine {
    /// Runs the checksum alone.
    public func verifyChecksum() async -> ChecksumVerdict {
        // An incremental backup's figures are its changes', not the tables': BR checks none
        // either (tidb br/pkg/task/restore.go skips the checksum of an incremental restore).
        guard backup.startVersion == 0 else {
            reporter.report(.log(.warn, "checksum skipped: the backup is incremental (versions \(backup.startVersion) to \(backup.endVersion)); its figures are its changes', not the tables'"))
            return .matched
        }
        do {
            guard let report = try await checksumReport() else { return .matched }
            reporter.report(.checksum(report.isMatch ? .matched : .mismatched))
            let mismatched = backup.tables.filter { !report.mismatchedTables.isDisjoint(with: $0.physicalIDs) }.map(\.displayName)
            reporter.report(.tableChecksums(mismatched: Set(mismatched)))
            if report.isMatch {
                reporter.report(.log(.info, "checksum matched: crc64xor=\(report.total.crc64xor) kvs=\(report.total.totalKVs) bytes=\(report.total.totalBytes)"))
            } else {
                for m in report.mismatches { reporter.report(.log(.error, "checksum mismatch: \(m)")) }
                if report.mismatches.isEmpty {
                    reporter.report(.log(.error, "checksum mismatch: expected \(report.expected), restored \(report.total)"))
                }
            }
            tally.lastMismatches.withLock { $0 = report.mismatches }
            return report.isMatch ? .matched : .mismatched
        } catch {
            let verdict = ChecksumVerdict.unread("\(error)")
            reporter.report(.checksum(verdict))
            reporter.report(.log(.error, "checksum failed: \(error)"))
            return verdict
        }
    }

    /// The report of whichever checksum the cluster allows; nil when it allows none (said in the log).
    private func checksumReport() async throws -> ChecksumVerifier.Report? {
        var expectation = ChecksumExpectation(plan: plan, backup: backup)
        let counter = SelectedKeysChecksum(storage: storage, format: rules.format)
        for set in plan.fileSets where set.isPartial {
            expectation.selectedParts[set.id] = try await BlockingIO.run { try counter.checksum(of: set) }
        }
        if let inspection = cluster as? any ClusterInspection {
            return try await ChecksumVerifier(cluster: inspection, rules: rules, expectation: expectation).verify()
        }
        guard let regions = cluster as? any RegionChecksumming, rules.format == .transactional else {
            let why = rules.format == .raw
                ? "TiKV's coprocessor reads transactional data only, and BR checks no raw restore (tidb br/pkg/task/restore_raw.go)"
                : "\(cluster.location) takes no checksum"
            reporter.report(.log(.warn, "checksum skipped: \(why)"))
            return nil
        }
        guard let readTS = await cluster.timestamp() else { throw RestoreError.checksum("\(cluster.location) gives no timestamp to read at") }
        reporter.report(.log(.info, "checksum: each region's leader reads its keys at \(readTS)"))
        let reporter = self.reporter
        let verifier = RegionChecksumVerifier(cluster: regions, rules: rules, expectation: expectation, readTS: readTS, retry: options.checksum) { region, error in
            reporter.report(.checksumRetried(region: region, error))
        }
        return try await verifier.verify()
    }

    public var checksumMismatches: [ChecksumVerifier.Mismatch] { tally.lastMismatches.withLock { $0 } }
}
