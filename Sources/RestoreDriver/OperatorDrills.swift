/// The fault drills an operator can start from the console's keys (d, u, L, S, B). Only an
/// embedded cluster offers them (RestoreDrills' `EngineDrills`); the console holds this seam, so
/// it depends on no cluster. Each drill logs what it did, or why it could not.
public protocol OperatorDrills: Sendable {
    func storeDown(_ store: UInt64) async
    func allStoresUp() async
    func transferLeader(region: UInt64) async
    func split(region: UInt64) async
    func busy(store: UInt64, for duration: Duration)
}
