import Foundation
import RestoreDriver

extension WaitReason {
    /// The reason in words, as the console shows it ("ServerIsBusy on store 2, retry in 2.1 s").
    var text: String {
        switch self {
        case let .serverIsBusy(store, wait): "ServerIsBusy on store \(store), retry in \(Self.seconds(wait)) s"
        case let .retry(_, label, attempt, attempts, wait): "\(label), retry \(attempt)/\(attempts) in \(Self.seconds(wait)) s"
        case let .noLeader(wait): "no leader, retry in \(Self.seconds(wait)) s"
        case let .checkpointWrite(wait): "ingested, but the checkpoint cannot be written (disk?), retry in \(Self.seconds(wait)) s"
        }
    }

    private static func seconds(_ d: Duration) -> String {
        String(format: "%.1f", Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
    }
}
