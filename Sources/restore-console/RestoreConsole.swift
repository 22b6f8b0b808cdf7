import ArgumentParser
import EmbeddedCluster
import Foundation

@main
struct RestoreConsole: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore-console",
        abstract: "Restore BR backups into a TiKV cluster or an embedded one, and watch every region live.",
        version: "0.1.0",
        subcommands: [RestoreCommand.self, DemoCommand.self, ClusterCommand.self, VerifyCommand.self, BackupCommand.self, InspectCommand.self, KeyCommand.self, SSTCommand.self]
    )

    /// Exit codes: 0 ok, 1 regions failed or checksum mismatch, 2 bad input or usage, 3 a store panicked.
    static func main() async {
        // Everything this process creates (cluster directories, RocksDB files, checkpoints,
        // downloads, backups) is for its owner only: 0600 files and 0700 directories.
        umask(0o077)
        // Stores, downloads and ingests are budgeted from the hard open-files limit, not the soft one.
        OpenFileBudget.raiseProcessLimit()
        do {
            var command = try parseAsRoot()
            if var async = command as? AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch let exit as RestoreExit {
            Foundation.exit(exit.code)
        } catch let failure as StartFailure {
            // Bad input or an unreachable cluster, not a wrong command line: no usage text.
            FileHandle.standardError.write(Data("restore-console: \(failure.description)\n".utf8))
            Foundation.exit(2)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                self.exit(withError: error)  // --help, --version
            }
            FileHandle.standardError.write(Data("restore-console: \(fullMessage(for: error))\n".utf8))
            Foundation.exit(2)
        }
    }
}

/// A restore that cannot start (bad input, a cluster or storage that cannot be reached, a limit
/// too low): exit code 2 with the message alone, unlike a usage error, which shows the usage.
struct StartFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) { self.description = description }
}

