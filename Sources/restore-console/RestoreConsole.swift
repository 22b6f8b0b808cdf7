import ArgumentParser

@main
struct RestoreConsole: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore-console",
        abstract: "Restore BR backups into an embedded TiKV-style cluster, and watch every region live.",
        version: "0.1.0",
        subcommands: [BackupCommand.self, InspectCommand.self, KeyCommand.self, SSTCommand.self]
    )
}
