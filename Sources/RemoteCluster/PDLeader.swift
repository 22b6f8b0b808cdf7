import Foundation
import Synchronization
import GRPCCore
import KVProto
import KVProtoGRPC
import KVWire
import GRPCNIOTransportHTTP2

/// The PD member that leads, among those given with `--pd` and those GetMembers lists. Every PD
/// call goes to it; a call that fails because that member no longer leads (PD answers UNAVAILABLE
/// "not leader", tikv/pd server/grpc_service.go `validateRoleInRequest`) or is gone is sent again
/// to the leader that the members name, as PD's own client follows it.
final class PDLeader: Sendable {
    private struct State {
        var connection: WireConnection
        /// Every member known: the addresses given, then the client URLs GetMembers lists.
        var members: [WireAddress]
    }

    private let state: Mutex<State>
    private let security: WireSecurity?

    private init(connection: WireConnection, members: [WireAddress], security: WireSecurity?) {
        state = Mutex(State(connection: connection, members: members))
        self.security = security
    }

    /// Finds the leader among `members` (asking each in turn) and connects to it.
    static func connect(_ members: [WireAddress], security: WireSecurity?) async throws(WireError) -> (PDLeader, Pdpb_GetMembersResponse) {
        let (connection, response, known) = try await findLeader(members, security: security)
        return (PDLeader(connection: connection, members: known, security: security), response)
    }

    var address: WireAddress { state.withLock { $0.connection.address } }

    /// The leader's address first, then every other member's.
    var addresses: [WireAddress] {
        state.withLock { s in [s.connection.address] + s.members.filter { $0 != s.connection.address } }
    }

    var client: Pdpb_PD.Client<HTTP2ClientTransport.Posix> { Pdpb_PD.Client(wrapping: state.withLock { $0.connection.client }) }

    /// `body` on the leader; when it fails as a call to a member that does not lead (or is gone),
    /// once more on the leader found again.
    func call<T>(_ body: (Pdpb_PD.Client<HTTP2ClientTransport.Posix>) async throws -> T) async throws -> T {
        let used = state.withLock { $0.connection }
        do { return try await body(Pdpb_PD.Client(wrapping: used.client)) } catch let error as RPCError where Self.mayBeFollower(error) {
            try await follow(from: used)
            return try await body(client)
        }
    }

    private static func mayBeFollower(_ error: RPCError) -> Bool {
        [.unavailable, .deadlineExceeded, .unknown].contains(error.code)
    }

    /// Connects to the leader the members name now, unless another call did since `stale` failed.
    private func follow(from stale: WireConnection) async throws {
        let members = state.withLock { $0.members }
        guard state.withLock({ $0.connection === stale }) else { return }
        let (connection, _, known) = try await Self.findLeader(members, security: security)
        let replaced: WireConnection? = state.withLock { state in
            guard state.connection === stale else { return connection }  // another call got there first
            state.connection = connection
            state.members = known
            return stale
        }
        if let replaced { await replaced.close() }
    }

    /// Asks each member for the members, and connects to the leader the first answer names.
    private static func findLeader(_ members: [WireAddress], security: WireSecurity?) async throws(WireError) -> (WireConnection, Pdpb_GetMembersResponse, [WireAddress]) {
        var failures: [String] = []
        for member in members {
            let connection = try WireConnection(member, security: security)
            let response: Pdpb_GetMembersResponse
            do {
                response = try await Pdpb_PD.Client(wrapping: connection.client).getMembers(Pdpb_GetMembersRequest(), options: WireConnection.options(timeout: .seconds(5)))
            } catch {
                failures.append("\(member): \(WireFailure.reason(error))")
                await connection.close()
                continue
            }
            var known = members
            for url in response.members.flatMap(\.clientUrls) {
                if let address = try? WireAddress(parsing: url), !known.contains(address) { known.append(address) }
            }
            guard response.hasLeader, let url = response.leader.clientUrls.first, let leader = try? WireAddress(parsing: url) else {
                failures.append("\(member): no leader (an election under way?)")
                await connection.close()
                continue
            }
            if leader == member { return (connection, response, known) }
            await connection.close()
            let led = try WireConnection(leader, security: security)
            return (led, response, known)
        }
        throw .unreachable(what: "PD", address: members.map(\.description).joined(separator: ","), reason: failures.joined(separator: "; "))
    }

    func close() async {
        await state.withLock { $0.connection }.close()
    }
}
