import Foundation
import KeyCodec
import ExternalStorage
import BackupFormat
import ClusterAPI

/// What a restore is made of, read before anything is written: the selected part of the backup,
/// the checkpoint that an earlier run of it left (read, not opened), the rewrite rules and the
/// plan. A dry run prints them; the prechecks weigh them; the engine restores them.
public struct RestoreInputs: Sendable {
    public let backup: Backup
    public let backupKey: String
    public let rules: RuleBuilder
    public let plan: RestorePlan
    /// The timestamp every restored version gets (0: the backup's own), and where it came from.
    public let newTimestamp: UInt64
    public let timestampSource: String
    /// The checkpoint of an earlier run of the same restore, if one is there.
    let earlier: Checkpoint.Saved?

    /// True when an earlier run of this restore left its checkpoint: the data it wrote is this
    /// restore's own.
    public var isResume: Bool { earlier != nil }

    public static func read(
        storage: any ExternalStorage, survey: any ClusterSurvey, stateDirectory: String, options: RestoreOptions
    ) async throws(RestoreError) -> RestoreInputs {
        let whole: Backup
        do { whole = try await BlockingIO.run { () throws(BackupError) -> Backup in try BackupReader(storage: storage, cipher: options.cipher).read() } } catch {
            throw .backup(error)
        }
        let backup = try BackupSelection.apply(options, to: whole)
        // The checkpoint belongs to what is restored: the selected files, and the selected keys.
        let selectedKeys = options.keyRange.map { "\($0)" } ?? ""
        let key = SHA256Digest.hash(Array((backup.files.map { $0.name + $0.sha256.hexString }.joined() + selectedKeys).utf8)).prefix(8).hexString
        let earlier = try Checkpoint.read(at: "\(stateDirectory)/checkpoints/\(key).log")
        // A resume keeps the table ids of the first run, whatever is in use by now.
        var effective = options
        for (old, new) in earlier?.header.tableIDs ?? [:] { if let o = Int64(old) { effective.tableIDMap[o] = new } }
        // An incremental backup's rows must be newer than what they change: BR restores them at
        // a timestamp from PD's TSO (tidb br/pkg/task/restore.go); a resume keeps the first run's.
        var source = options.newTimestamp == 0 ? "the backup's own versions" : "--new-ts"
        if let kept = earlier?.header.newTimestamp {
            effective.newTimestamp = kept
            source = "the first run of this restore"
        } else if backup.startVersion != 0, !backup.isRawKV, effective.newTimestamp == 0 {
            guard let taken = await survey.timestamp() else {
                throw .rules("the backup is incremental and \(survey.location) gave no timestamp from its TSO: give --new-ts, above every version in the cluster")
            }
            effective.newTimestamp = taken
            source = "the cluster's TSO"
        }
        let rules = try RuleBuilder(backup: backup, options: effective, highestTableIDInUse: await survey.highestTableIDInUse())
        let plan = try RestorePlan(backup: backup, rules: rules, mergeSize: options.mergeSize, keyRange: options.keyRange)
        return RestoreInputs(
            backup: backup, backupKey: key, rules: rules, plan: plan, newTimestamp: effective.newTimestamp, timestampSource: source, earlier: earlier)
    }

    /// The file sets that the earlier run did not finish (every one, when there was none).
    var remainingSets: [FileSet] {
        guard let pieces = earlier?.pieces else { return plan.fileSets }
        return plan.fileSets.filter { !Checkpoint.remaining(of: $0.newRange, after: pieces[$0.id] ?? []).isEmpty }
    }
}
