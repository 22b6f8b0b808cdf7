import Foundation
import KeyCodec
import ExternalStorage
import BackupFormat

/// What the checksum expects of a file set that a `--start-key`/`--end-key` selection cuts: the
/// backupmeta's figures cover whole files, so the selected part is counted from the files
/// themselves, as the backup counts (user key, value): short values in `write`, rows in `default`.
struct SelectedKeysChecksum: Sendable {
    let storage: any ExternalStorage
    let format: KeyRewriter.KeyFormat

    func checksum(of set: FileSet) throws -> KVChecksum {
        var sum = KVChecksum()
        for file in set.files {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("selected-\(UUID().uuidString).sst").path
            defer { unlink(path) }
            try storage.download(file.name, to: path, expected: file.expectedContent, limiter: nil, progress: nil)
            let reader = try SSTReader(path: path)
            let encode: ([UInt8]) -> [UInt8] = format == .raw ? { DataKey.make($0) } : { DataKey.make(Memcomparable.encode($0)) }
            let stop = set.oldRange.end.isEmpty ? nil : encode(set.oldRange.end)
            try reader.scan(from: encode(set.oldRange.start)) { key, value in
                if let stop, compareKeys(key, stop) >= 0 { return false }
                if format == .raw {
                    sum.add(key: Array(key.dropFirst()), value: Array(value))
                    return true
                }
                let userKey = try MVCCKey(decoding: key.dropFirst()).userKey
                if file.cf == .default {
                    sum.add(key: userKey, value: Array(value))
                } else if case let record = try WriteRecord(decoding: value), record.kind == .put, let short = record.shortValue {
                    sum.add(key: userKey, value: short)
                }
                return true
            }
        }
        return sum
    }
}
