import KeyCodec
import ClusterAPI
import RestoreDriver

/// How a peer looks in the region table: its store, a star when it leads, and its protocol state,
/// such as `s4 dl 70%` or `s2* ok`, in the state's colour role.
public enum PeerCell {
    public static func cell(_ peer: PeerProgress) -> (text: String, role: ColorRole) {
        let (state, role) = label(peer.phase)
        return ("s\(peer.storeID)\(peer.isLeader ? "*" : "") \(state)", role)
    }

    public static func label(_ phase: PeerPhase) -> (text: String, role: ColorRole) {
        switch phase {
        case .queued: ("--", .dim)
        case let .downloading(p): ("dl \(p)%", .info)
        case .rewriting: ("rw", .info)
        case .ready: ("rdy", .accent)
        case .ingesting: ("ing", .accent)
        case .ingested: ("ok", .ok)
        case let .retrying(reason): (reason == "ServerIsBusy" ? "busy" : "retry", .warn)
        case .failed: ("FAILED", .error)
        case .paused: ("paused", .paused)
        case .down: ("down", .error)
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
