import KeyCodec

/// One SST to ingest, as the importer saved it: `{uuid}_{region}_{conf_ver}_{version}_{cf}.sst`.
public struct IngestFile: Codable, Hashable, Sendable {
    public var uuid: String
    public var cf: ColumnFamily
    /// Rewritten keys, encoded, without `z`, inclusive.
    public var range: KeyRange

    public init(uuid: String, cf: ColumnFamily, range: KeyRange) {
        self.uuid = uuid
        self.cf = cf
        self.range = range
    }

    /// The file's name in a store's import directory.
    public func fileName(regionID: UInt64, epoch: RegionEpoch) -> String {
        "\(uuid)_\(regionID)_\(epoch.confVer)_\(epoch.version)_\(cf.name).sst"
    }
}
