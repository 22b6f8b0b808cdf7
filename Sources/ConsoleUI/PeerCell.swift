import KeyCodec
import ClusterAPI
import RestoreDriver

/// How a peer's protocol state looks in the region table: a short label and its colour role.
public enum PeerCell {
    public static func label(_ phase: PeerPhase) -> (text: String, role: ColorRole) {
        switch phase {
        case .queued: ("[--]", .dim)
        case let .downloading(p): ("[dl \(p)%]", .info)
        case .rewriting: ("[rw]", .info)
        case .ready: ("[rdy]", .accent)
        case .ingesting: ("[ing]", .accent)
        case .ingested: ("[ok]", .ok)
        case let .retrying(reason): (reason == "ServerIsBusy" ? "[busy]" : "[retry]", .warn)
        case .failed: ("[FAILED]", .error)
        case .paused: ("[paused]", .paused)
        case .down: ("[down]", .error)
        }
    }

    public static func role(_ phase: RegionPhase) -> ColorRole {
        switch phase {
        case .queued: .dim
        case .downloading: .info
        case .ready, .ingesting: .accent
        case .ingested: .ok
        case .retrying: .warn
        case .paused: .paused
        case .failed: .error
        }
    }
}
