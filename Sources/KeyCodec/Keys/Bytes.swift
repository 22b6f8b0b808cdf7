import Foundation

extension Array where Element == UInt8 {
    /// Lower-case hex, two digits a byte.
    public var hexString: String { self[...].hexString }

    /// Parses hex digits (upper or lower case, an optional `0x`); nil on any other character or an odd count.
    public init?(hex: String) {
        var digits = Substring(hex)
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") { digits = digits.dropFirst(2) }
        guard digits.utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.utf8.count / 2)
        var high: UInt8?
        for c in digits.utf8 {
            let v: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let h = high { bytes.append(h << 4 | v); high = nil } else { high = v }
        }
        self = bytes
    }
}

extension ArraySlice where Element == UInt8 {
    public var hexString: String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(count * 2)
        for b in self {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Bytewise order of two keys, as RocksDB's default comparator sees them.
@inlinable
public func compareKeys<A: ContiguousBytes, B: ContiguousBytes>(_ a: A, _ b: B) -> Int {
    a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in compareKeys(pa, pb) } }
}

/// The same order on raw buffers: the form the per-entry paths (rewrite, SST writes) use, with no
/// generic dispatch in between.
@inlinable
public func compareKeys(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let n = min(a.count, b.count)
    if n > 0, let ba = a.baseAddress, let bb = b.baseAddress {
        let c = memcmp(ba, bb, n)
        if c != 0 { return c < 0 ? -1 : 1 }
    }
    return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
}

/// `a < b` in bytewise order.
@inlinable
public func keyLess<A: ContiguousBytes, B: ContiguousBytes>(_ a: A, _ b: B) -> Bool { compareKeys(a, b) < 0 }

/// Runs `decode` over `bytes` as one raw buffer, with `decode`'s typed error: `withUnsafeBytes`
/// throws an untyped one. For the generic entry points of decoders that work on raw buffers.
func withRawBytes<Result, Failure: Error>(
    _ bytes: some Collection<UInt8>, _ decode: (UnsafeRawBufferPointer) throws(Failure) -> Result
) throws(Failure) -> Result {
    try Array(bytes).withUnsafeBytes { raw in Swift.Result { () throws(Failure) in try decode(raw) } }.get()
}
