/// Why a key could not be rewritten, or why a set of rules is unusable.
public enum RewriteError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The key starts with no rule's old prefix (TiKV's WrongKeyPrefix). The key is never copied as it is.
    case wrongKeyPrefix(key: [UInt8])
    /// A rewritten key starts with no rule's new prefix, so it cannot be mapped back.
    case notRewritten(key: [UInt8])
    /// Two rules share an old prefix (or a new prefix), so a key would have two destinations (or sources).
    case conflictingRules(RewriteRule, RewriteRule)
    /// A timestamp rewrite was asked for keys that carry no timestamp.
    case timestampOnRawKeys(RewriteRule)
    /// The rules put keys of one file out of order (their new prefixes sort differently from the old).
    case reordered(key: [UInt8])
    /// A key that should be transactional did not decode.
    case malformedKey(KeyCodecError)

    public var description: String {
        switch self {
        case let .wrongKeyPrefix(key):
            "key \(key.hexString) matches no rewrite rule (WrongKeyPrefix)"
        case let .notRewritten(key):
            "key \(key.hexString) matches no rule's new prefix, so the rewrite cannot be undone"
        case let .conflictingRules(a, b):
            "rewrite rules conflict: \(a) and \(b) share a prefix"
        case let .timestampOnRawKeys(rule):
            "rule \(rule) sets a new timestamp, but raw keys carry none"
        case let .reordered(key):
            "rewritten key \(key.hexString) sorts before the one before it: the rules do not keep the order of keys in this file"
        case let .malformedKey(error):
            "malformed key: \(error)"
        }
    }
}
