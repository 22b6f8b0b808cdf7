import Foundation

/// A range of keys. An empty `end` means "no upper bound", as in TiKV's regions. The end is exclusive
/// unless `endInclusive` is set (backup file ranges and Download responses are inclusive).
public struct KeyRange: Hashable, Sendable, Codable, CustomStringConvertible {
    public var start: [UInt8]
    public var end: [UInt8]
    public var endInclusive: Bool

    public init(start: [UInt8], end: [UInt8], endInclusive: Bool = false) {
        self.start = start
        self.end = end
        self.endInclusive = endInclusive
    }

    /// Every key.
    public static let all = KeyRange(start: [], end: [])

    public var isUnbounded: Bool { end.isEmpty }

    public func contains(_ key: some ContiguousBytes) -> Bool {
        key.withUnsafeBytes { contains($0) }
    }

    public func contains(_ key: UnsafeRawBufferPointer) -> Bool {
        start.withUnsafeBytes { start in
            guard compareKeys(key, start) >= 0 else { return false }
            return end.withUnsafeBytes { end in
                if end.isEmpty { return true }
                let c = compareKeys(key, end)
                return endInclusive ? c <= 0 : c < 0
            }
        }
    }

    /// True when no key lies in the range.
    public var isEmpty: Bool {
        if end.isEmpty { return false }
        let c = compareKeys(start, end)
        return endInclusive ? c > 0 : c >= 0
    }

    /// True when the two ranges (end exclusive, an empty end unbounded) share a key.
    public func overlaps(_ other: KeyRange) -> Bool {
        (end.isEmpty || keyLess(other.start, end)) && (other.end.isEmpty || keyLess(start, other.end))
    }

    /// True when every key of `other` lies in this range.
    public func covers(_ other: KeyRange) -> Bool {
        guard compareKeys(other.start, start) >= 0 else { return false }
        if end.isEmpty { return true }
        if other.end.isEmpty { return false }
        let c = compareKeys(other.end, end)
        if c < 0 { return true }
        if c > 0 { return false }
        return endInclusive || !other.endInclusive
    }

    public var description: String {
        "[\(start.hexString), \(end.isEmpty ? "+inf" : end.hexString)\(endInclusive ? "]" : ")")"
    }
}
