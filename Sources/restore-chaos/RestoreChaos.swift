import ArgumentParser
import Foundation
import KeyCodec
import ExternalStorage
import BackupFormat

@main
struct RestoreChaos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore-chaos",
        abstract: "Reliability campaigns: restores under seeded random faults, and SIGKILL at crash points or random instants, then resume.",
        subcommands: [ChaosCommand.self, CrashCommand.self, RandomKillCommand.self]
    )
}

/// The shared scratch backup of both campaigns: small enough for many runs, large enough for
/// several regions, files and splits.
struct CampaignBackup {
    let directory: String
    var backup: String { directory + "/backup" }

    init(tables: Int, rows: Int) throws {
        directory = NSTemporaryDirectory() + "restore-chaos-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var options = BackupProducer.Options()
        options.tables = tables
        options.rows = rows
        options.indexes = 1
        options.fileSize = 96 << 10
        try BackupProducer(storage: LocalStorage(root: backup), options: options).produce()
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

struct CampaignFailed: Error, CustomStringConvertible {
    var description: String
}
