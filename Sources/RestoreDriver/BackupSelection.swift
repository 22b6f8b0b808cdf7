import KeyCodec
import BackupFormat

/// The part of a backup that a restore takes: the tables that `--filter` selects and the files that
/// hold keys in `--start-key`..`--end-key`. Rules, split keys, the checksum and the summary are
/// derived from what is left, so they cover exactly the selected data.
enum BackupSelection {
    static func apply(_ options: RestoreOptions, to backup: Backup) throws(RestoreError) -> Backup {
        var selected = backup
        if !options.tableFilter.isEmpty {
            guard !backup.isRawKV else {
                throw .selection("--filter selects tables, and a raw backup holds none; select keys with --start-key and --end-key")
            }
            let filter: TableFilter
            do { filter = try TableFilter(options.tableFilter, caseSensitive: options.caseSensitiveFilter) } catch { throw .selection(error.description) }
            let tables = backup.tables.filter { filter.matches(schema: $0.database, table: $0.name) }
            guard !tables.isEmpty else {
                let names = backup.tables.map(\.displayName).sorted()
                throw .selection("--filter \(options.tableFilter.joined(separator: " ")) matches none of the backup's \(names.count) tables: \(names.joined(separator: ", "))")
            }
            let ids = Set(tables.flatMap(\.physicalIDs))
            selected.tables = tables
            selected.files = backup.files.filter { $0.tableID.map(ids.contains) ?? false }
        }
        if let range = options.keyRange {
            guard !range.isEmpty else { throw .selection("--start-key \(range.start.hexString) is not before --end-key \(range.end.hexString)") }
            selected.files = selected.files.filter { $0.range.overlaps(range) }
            guard !selected.files.isEmpty else { throw .selection("no file of the backup holds keys in \(range) (--start-key, --end-key)") }
            let ids = Set(selected.files.compactMap(\.tableID))
            selected.tables = selected.tables.filter { !ids.isDisjoint(with: $0.physicalIDs) }
        }
        return selected
    }

    /// `range` cut to `selection`, or `range` itself when there is no selection.
    static func clip(_ range: KeyRange, to selection: KeyRange?) -> KeyRange {
        guard let selection else { return range }
        return RestoreEngine.clip(range, to: selection)
    }
}
