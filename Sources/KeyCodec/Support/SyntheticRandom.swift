/// SplitMix64: a small, fast generator whose output depends only on its seed, so that a backup
/// produced twice with one seed is byte-for-byte the same.
public struct SyntheticRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value for one (a, b, c) position, independent of the order in which positions are visited.
    public static func mix(_ seed: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64) -> UInt64 {
        var r = SyntheticRandom(seed: seed ^ (a &* 0x100_0000_01B3) ^ (b &* 0xC2B2_AE3D_27D4_EB4F) ^ (c &* 0x1656_67B1_9E37_79F9))
        return r.next()
    }
}
