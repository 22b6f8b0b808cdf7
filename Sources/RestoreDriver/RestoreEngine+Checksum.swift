import ClusterAPI
import ExternalStorage

/// The checksum stage: after every region is in, the restored data is read back (undoing the
/// rewrite) and compared with the backup's figures. Only a cluster that lets the client read its
/// stores can be checked; for any other the log says so and the check is skipped.
extension RestoreEngine {
    /// Runs the checksum alone; true when everything matches.
    public func verifyChecksum() async -> Bool {
        // An incremental backup's figures are its changes', not the tables': BR checks none
        // either (tidb br/pkg/task/restore.go skips the checksum of an incremental restore).
        guard backup.startVersion == 0 else {
            reporter.report(.log(.warn, "checksum skipped: the backup is incremental (versions \(backup.startVersion) to \(backup.endVersion)); its figures are its changes', not the tables'"))
            return true
        }
        guard let inspection = cluster as? any ClusterInspection else {
            reporter.report(.log(.warn, "checksum skipped: \(cluster.location) does not let a client read its stores"))
            return true
        }
        do {
            var verifier = ChecksumVerifier(cluster: inspection, plan: plan, rules: rules, backup: backup)
            let counter = SelectedKeysChecksum(storage: storage, format: rules.format)
            for set in plan.fileSets where set.isPartial {
                verifier.selectedParts[set.id] = try await BlockingIO.run { try counter.checksum(of: set) }
            }
            let report = try await verifier.verify()
            reporter.report(.checksum(match: report.isMatch))
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
            lastMismatches.withLock { $0 = report.mismatches }
            return report.isMatch
        } catch {
            reporter.report(.checksum(match: false))
            reporter.report(.log(.error, "checksum failed: \(error)"))
            return false
        }
    }

    public var checksumMismatches: [ChecksumVerifier.Mismatch] { lastMismatches.withLock { $0 } }
}
