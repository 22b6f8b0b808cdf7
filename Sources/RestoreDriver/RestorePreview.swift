import Foundation
import KeyCodec
import ExternalStorage
import BackupFormat
import ClusterAPI

/// What a restore will do and whether it can, worked out before anything is written: the plan
/// that `restore --dry-run` prints, and the prechecks that refuse a restore bound to fail halfway.
public struct RestorePreview: Sendable, Codable {
    public struct Table: Sendable, Codable {
        public var name: String
        public var oldIDs: [Int64]
        public var newIDs: [Int64]
        public var files: [String: Int]
        public var bytes: [String: UInt64]
        public var kvs: UInt64
    }

    public struct Store: Sendable, Codable {
        public var id: UInt64
        public var address: String
        public var state: String
        /// What the store will receive: the data of the regions it holds a replica of.
        public var receives: UInt64
        public var available: UInt64?
    }

    public struct Check: Sendable, Codable {
        public enum Status: String, Sendable, Codable {
            case passed, failed
            /// The operator asked to skip it.
            case skipped
            /// The cluster or the storage does not let the check be made.
            case unknown
        }

        public var name: String
        public var status: Status
        public var message: String

        public init(name: String, status: Status, message: String) {
            self.name = name
            self.status = status
            self.message = message
        }
    }

    public var source: String
    public var cluster: String
    public var kind: String
    public var selection: [String]
    public var resume: Bool
    public var files: [String: Int]
    public var bytes: UInt64
    public var kvs: UInt64
    public var tables: [Table]
    public var rewriteMode: String
    public var rules: [String]
    public var ranges: Int
    public var regionsNow: Int
    /// Split keys (hex) that are not region boundaries yet.
    public var newSplitKeys: [String]
    public var replicas: Int
    public var stores: [Store]
    public var checks: [Check]

    public var passed: Bool { !checks.contains { $0.status == .failed } }

    /// The checks whose names `--skip-precheck` takes.
    public static let checkNames = ["disk", "open-files", "existing-data", "storage", "checksums"]

    /// Works out the plan and runs every check. `extraChecks`: those that only the caller can make
    /// (the open-files limit of an embedded cluster).
    public static func make(
        inputs: RestoreInputs, storage: any ExternalStorage, survey: any ClusterSurvey, options: RestoreOptions, extraChecks: [Check] = []
    ) async -> RestorePreview {
        let backup = inputs.backup, plan = inputs.plan, rules = inputs.rules
        let sets = Dictionary(grouping: plan.fileSets) { $0.tableID ?? -1 }
        let tables = backup.tables.map { table in
            let files = table.physicalIDs.flatMap { sets[$0] ?? [] }.flatMap(\.files)
            return Table(
                name: table.displayName, oldIDs: table.physicalIDs, newIDs: table.physicalIDs.compactMap { rules.tableIDs[$0] },
                files: files.reduce(into: [:]) { $0[$1.cf.name, default: 0] += 1 }, bytes: files.reduce(into: [:]) { $0[$1.cf.name, default: 0] += $1.size },
                kvs: files.reduce(0) { $0 + $1.checksum.totalKVs })
        }
        var selection: [String] = options.tableFilter.map { "--filter \($0)" }
        if let range = options.keyRange { selection.append("keys \(range)") }

        let regions = await survey.regions(overlapping: .all)
        let boundaries = Set(regions.map(\.startKey))
        let storeInfos = await survey.stores()
        let up = storeInfos.filter(\.state.isUp)
        let remaining = inputs.remainingSets.reduce(0) { $0 + $1.size }
        // remaining × replicas ÷ stores, in double width: the replicas never outnumber the stores,
        // so the share is at most `remaining`.
        let share = up.isEmpty ? 0 : UInt64(up.count).dividingFullWidth(remaining.multipliedFullWidth(by: UInt64(min(survey.replicas, up.count)))).quotient
        var stores: [Store] = []
        var disks: [UInt64: StoreDisk] = [:]
        for info in storeInfos {
            let disk = await survey.disk(ofStore: info.id)
            if let disk { disks[info.id] = disk }
            stores.append(Store(id: info.id, address: info.address, state: info.state.description, receives: info.state.isUp ? share : 0, available: disk?.availableBytes))
        }

        var preview = RestorePreview(
            source: storage.displayName, cluster: survey.location, kind: Self.kind(inputs, options: options), selection: selection, resume: inputs.isResume,
            files: backup.filesByCF().reduce(into: [:]) { $0[$1.key.name] = $1.value }, bytes: plan.totalSize, kvs: plan.totalKVs, tables: tables,
            rewriteMode: rules.mode == .legacy ? "legacy" : "keyspace", rules: rules.userRules.rules.map(\.description),
            ranges: plan.ranges.count, regionsNow: regions.count, newSplitKeys: plan.splitKeys.filter { !boundaries.contains($0) }.map(\.hexString),
            replicas: survey.replicas, stores: stores, checks: [])
        let checker = Prechecks(inputs: inputs, options: options, survey: survey)
        var checks = [checker.disk(stores: stores, disks: disks)] + extraChecks
        checks.append(await checker.existingData())
        checks.append(checker.storage(storage))
        checks.append(checker.checksums())
        preview.checks = checks.map { check in
            guard check.status == .failed, options.skippedPrechecks.contains(check.name) else { return check }
            return Check(name: check.name, status: .skipped, message: "skipped (--skip-precheck \(check.name)): \(check.message)")
        }
        return preview
    }
}

/// The checks before a restore writes anything. Each failure names the figure that fell short
/// and the flag that changes it.
struct Prechecks {
    let inputs: RestoreInputs
    let options: RestoreOptions
    let survey: any ClusterSurvey

    /// Room on every disk for what its stores receive, plus the import directory's peak, plus a
    /// tenth. At the peak every worker's region (`RestoreEngine.regionsPerDownloadSlot` for each
    /// download slot) holds a rewritten batch on each of its replicas, and each download slot a
    /// file as fetched.
    func disk(stores: [RestorePreview.Store], disks: [UInt64: StoreDisk]) -> RestorePreview.Check {
        let largestSet = inputs.plan.fileSets.map(\.size).max() ?? 0
        let batch = max(largestSet, min(options.bytesPerIngest, inputs.plan.totalSize))
        let share = stores.map(\.receives).max() ?? 0
        let importPeak = min(share, UInt64(options.downloadsPerStore * RestoreEngine.regionsPerDownloadSlot * survey.replicas) * batch) + UInt64(options.downloadsPerStore) * largestSet
        // Stores on one file system (embedded stores in one directory) share its room.
        var groups: [String: (stores: [UInt64], need: UInt64, available: UInt64)] = [:]
        var unknown: [UInt64] = []
        for store in stores where store.receives > 0 {
            guard let disk = disks[store.id] else {
                unknown.append(store.id)
                continue
            }
            let key = disk.device.map { "device \($0)" } ?? "store \(store.id)"
            let need = store.receives + importPeak
            groups[key, default: ([], 0, disk.availableBytes)].stores.append(store.id)
            groups[key]!.need += need + need / 10
        }
        let short = groups.values.filter { $0.need > $0.available }.sorted { $0.stores[0] < $1.stores[0] }
        if let group = short.first {
            let who = group.stores.count == 1 ? "store \(group.stores[0])" : "stores \(group.stores.map(String.init).joined(separator: ", ")) (one disk)"
            return .init(name: "disk", status: .failed, message: "\(who): \(ByteFormat.size(group.available)) free, the restore needs \(ByteFormat.size(group.need)) (its data \(inputs.isResume ? "left " : "")times \(survey.replicas) replicas, the import directory's peak and a tenth more); free space, restore less (--filter), or skip the check (--skip-precheck disk)")
        }
        let unreported = unknown.isEmpty ? "" : "the cluster does not report the free space of store \(unknown.map(String.init).joined(separator: ", "))"
        guard !groups.isEmpty else { return .init(name: "disk", status: .unknown, message: unreported.isEmpty ? "nothing to write" : unreported) }
        let least = groups.values.map { 1 - Double($0.need) / Double(max(1, $0.available)) }.min() ?? 1
        return .init(name: "disk", status: .passed, message: "every disk has room: the fullest keeps \(String(format: "%.0f", least * 100))% of its free space" + (unreported.isEmpty ? "" : "; \(unreported)"))
    }

    /// New table ids (or, for restores without table rules, the target ranges) that already hold
    /// data: a restore over them would mix its keys with others'.
    func existingData() async -> RestorePreview.Check {
        let name = "existing-data"
        if inputs.isResume { return .init(name: name, status: .passed, message: "a resume: the data already there is this restore's own") }
        if inputs.backup.startVersion != 0 { return .init(name: name, status: .passed, message: "an incremental backup: it goes on top of the data it changes") }
        if options.allowExistingData { return .init(name: name, status: .skipped, message: "not checked (--allow-existing-data)") }
        let rules = inputs.rules
        var targets: [(what: String, range: KeyRange)] = []
        if rules.tableIDs.isEmpty {
            targets = inputs.plan.ranges.map { ("range \($0.range)", $0.range) }
        } else {
            for table in inputs.backup.tables {
                for old in table.physicalIDs {
                    guard let new = rules.tableIDs[old] else { continue }
                    let range = KeyRange(start: rules.boundKey(TableCodec.tablePrefix(new)), end: rules.boundKey(TableCodec.tablePrefix(new + 1)))
                    targets.append(("table \(table.displayName) as id \(new)", range))
                }
            }
        }
        var occupied: [String] = []
        for target in targets {
            switch await survey.holdsData(in: target.range) {
            case nil: return .init(name: name, status: .unknown, message: "\(survey.location) does not let a client read its data; not checked")
            case true?: occupied.append(target.what)
            case false?: continue
            }
        }
        guard occupied.isEmpty else {
            let listed = occupied.prefix(5).joined(separator: "; ") + (occupied.count > 5 ? "; and \(occupied.count - 5) more" : "")
            return .init(name: name, status: .failed, message: "the cluster already holds data where the restore would write: \(listed); choose other ids (--table-id-map), or restore over it knowingly (--allow-existing-data)")
        }
        return .init(name: name, status: .passed, message: "no data where the restore writes (\(targets.count) \(rules.tableIDs.isEmpty ? "ranges" : "table ids"))")
    }

    /// The backupmeta was read (so the storage answers, with working credentials); every file it
    /// lists is there, when the storage can list.
    func storage(_ storage: any ExternalStorage) -> RestorePreview.Check {
        let names: [String]
        do { names = try storage.list(prefix: "") } catch {
            return .init(name: "storage", status: .unknown, message: "backupmeta read; the files cannot be listed (\(error)), so they are checked as they download")
        }
        let present = Set(names)
        let missing = inputs.backup.files.map(\.name).filter { !present.contains($0) }
        guard missing.isEmpty else {
            return .init(name: "storage", status: .failed, message: "\(missing.count) of the backup's \(inputs.backup.files.count) files are not in \(storage.displayName), e.g. \(missing.prefix(3).joined(separator: ", ")); check --storage, or skip the check (--skip-precheck storage)")
        }
        return .init(name: "storage", status: .passed, message: "backupmeta read; all \(inputs.backup.files.count) files are there")
    }

    /// The checksum at the end compares with the backupmeta's figures: a file set without them
    /// could never match. Per set, not per file: TiKV's backup writer counts a kv in the file that
    /// holds its value, so a write CF file whose values all live in the default CF has 0 kvs.
    func checksums() -> RestorePreview.Check {
        guard options.verifyChecksum else { return .init(name: "checksums", status: .skipped, message: "no checksum at the end (--checksum=false)") }
        guard inputs.backup.startVersion == 0 else {
            return .init(name: "checksums", status: .skipped, message: "the backup is incremental: its figures are its changes', not the tables' (BR checks none either)")
        }
        let overWire = survey is any RegionChecksumming && !(survey is any ClusterInspection)
        if overWire, inputs.backup.isRawKV {
            return .init(name: "checksums", status: .skipped, message: "a raw backup over the wire: TiKV's coprocessor reads transactional data only (BR checks no raw restore)")
        }
        let without = inputs.plan.fileSets.filter { $0.checksum.totalKVs == 0 }
        guard without.isEmpty else {
            let names = without[0].files.map(\.name).joined(separator: ", ")
            return .init(name: "checksums", status: .failed, message: "\(without.count) of \(inputs.plan.fileSets.count) file sets have no checksum in the backupmeta (0 kvs in all their files), e.g. \(names): the checksum at the end could not match; restore without it (--checksum=false)")
        }
        let how = overWire ? "each region's leader takes the checksum of its keys, as TiKV does for BR" : "the stores' data is read back"
        return .init(name: "checksums", status: .passed, message: "every file set has its crc64xor, kvs and bytes; at the end \(how)")
    }
}

extension RestorePreview {
    /// What the backup is: raw or transactional, encrypted (the method, never the key), and an
    /// incremental one's versions with the timestamp they are restored at, and whence it came.
    static func kind(_ inputs: RestoreInputs, options: RestoreOptions) -> String {
        let backup = inputs.backup
        var kind = backup.isRawKV ? "raw" : "transactional"
        if let cipher = options.cipher { kind += ", encrypted (\(cipher.method.name))" }
        if backup.startVersion != 0 { kind += ", incremental (versions \(backup.startVersion) to \(backup.endVersion))" }
        if inputs.newTimestamp != 0 { kind += ", restored at timestamp \(inputs.newTimestamp) (from \(inputs.timestampSource))" }
        return kind
    }
}
