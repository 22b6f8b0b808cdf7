/// Why a key could not be decoded. Messages name the offending bytes so an operator can find them.
public enum KeyCodecError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input ended inside a 9-byte memcomparable group.
    case truncatedGroup(offset: Int, key: [UInt8])
    /// A group's marker byte is not 0xF7...0xFF.
    case invalidMarker(offset: Int, marker: UInt8, key: [UInt8])
    /// The padding bytes of the last group are not zero.
    case nonZeroPadding(offset: Int, key: [UInt8])
    /// A key is too short to hold the 8-byte timestamp suffix or an integer.
    case tooShort(expected: Int, actual: Int, key: [UInt8])
    /// A data key lacks the `z` prefix.
    case missingDataPrefix(key: [UInt8])
    /// Bytes follow a value that should have ended the key.
    case trailingBytes(offset: Int, key: [UInt8])

    public var description: String {
        switch self {
        case let .truncatedGroup(offset, key):
            "memcomparable key truncated at byte \(offset): \(key.hexString)"
        case let .invalidMarker(offset, marker, key):
            "memcomparable key has invalid group marker 0x\(String(marker, radix: 16)) at byte \(offset): \(key.hexString)"
        case let .nonZeroPadding(offset, key):
            "memcomparable key has non-zero padding in the group at byte \(offset): \(key.hexString)"
        case let .tooShort(expected, actual, key):
            "key is \(actual) bytes, needs at least \(expected): \(key.hexString)"
        case let .missingDataPrefix(key):
            "data key does not start with 'z': \(key.hexString)"
        case let .trailingBytes(offset, key):
            "unexpected bytes after byte \(offset) of key \(key.hexString)"
        }
    }
}
