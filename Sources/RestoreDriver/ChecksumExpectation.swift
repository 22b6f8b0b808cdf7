import KeyCodec
import BackupFormat

/// What the restored data must hold, from the backup's figures: per file set (or, for a set that
/// a key selection cuts, what its selected keys hold), per table, and in all.
struct ChecksumExpectation: Sendable {
    let plan: RestorePlan
    let backup: Backup
    /// What the parts of file sets that a key selection cuts must hold, by set id.
    var selectedParts: [Int: KVChecksum] = [:]

    func of(_ set: FileSet) -> KVChecksum { selectedParts[set.id] ?? set.checksum }

    var total: KVChecksum { plan.fileSets.reduce(into: KVChecksum()) { $0.merge(of($1)) } }

    /// What `table` must hold: the backup's figure, or the sum of its selected parts when a key
    /// selection cuts it; nil for a table the backup has no figures for.
    func of(_ table: BackupTable) -> KVChecksum? {
        let ids = Set(table.physicalIDs)
        let sets = plan.fileSets.filter { $0.tableID.map(ids.contains) ?? false }
        let wanted = sets.contains(where: \.isPartial) ? sets.reduce(into: KVChecksum()) { $0.merge(of($1)) } : table.checksum
        return wanted.totalKVs > 0 ? wanted : nil
    }

    /// The tables whose restored figures (`actual`, by physical table id) differ from the backup's.
    func tableMismatches(actual: [Int64: KVChecksum]) -> [ChecksumVerifier.Mismatch] {
        backup.tables.compactMap { table in
            guard let wanted = of(table) else { return nil }
            let restored = table.physicalIDs.reduce(into: KVChecksum()) { $0.merge(actual[$1] ?? KVChecksum()) }
            return restored == wanted ? nil : ChecksumVerifier.Mismatch(scope: "table \(table.qualifiedName)", expected: wanted, actual: restored, tables: [table.id])
        }
    }
}
