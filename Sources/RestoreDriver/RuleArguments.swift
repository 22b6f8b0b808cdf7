import KeyCodec

/// The operator's rule arguments, parsed: `--table-id-map`, `--rewrite` and `--prefix`. They take
/// text from a command line, so every malformed form is an error that quotes it, never a crash.
public enum RuleArguments {
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// `--table-id-map OLD:NEW[,OLD:NEW...]`.
    public static func tableIDMap(_ text: String) throws(Invalid) -> [Int64: Int64] {
        var map: [Int64: Int64] = [:]
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: ":")
            guard parts.count == 2, let old = Int64(parts[0]), let new = Int64(parts[1]), old > 0, new > 0 else {
                throw Invalid("--table-id-map: '\(pair)' is not OLD:NEW with positive ids")
            }
            guard map.updateValue(new, forKey: old) == nil else { throw Invalid("--table-id-map names table \(old) twice") }
        }
        return map
    }

    /// `--rewrite OLD=NEW`, each side in `bytes` notation.
    public static func rewrite(_ text: String) throws(Invalid) -> RewriteRule {
        guard let eq = text.firstIndex(of: "=") else { throw Invalid("--rewrite '\(text)' is not OLD=NEW") }
        let old = try bytes(String(text[..<eq]), what: "--rewrite")
        let new = try bytes(String(text[text.index(after: eq)...]), what: "--rewrite")
        guard !(old.isEmpty && new.isEmpty) else { throw Invalid("--rewrite '\(text)' rewrites nothing") }
        return RewriteRule(oldPrefix: old, newPrefix: new)
    }

    /// `0x...` hex, or text with `\xNN`, `\\` escapes.
    public static func bytes(_ text: String, what: String) throws(Invalid) -> [UInt8] {
        if text.hasPrefix("0x") || text.hasPrefix("0X") {
            guard let bytes = [UInt8](hex: text) else { throw Invalid("\(what): '\(text)' is not valid hex") }
            return bytes
        }
        var out: [UInt8] = []
        var chars = Array(text.utf8)[...]
        while let c = chars.popFirst() {
            guard c == UInt8(ascii: "\\") else { out.append(c); continue }
            guard let kind = chars.popFirst() else { throw Invalid("\(what): '\(text)' ends with a lone backslash") }
            switch kind {
            case UInt8(ascii: "x"):
                guard chars.count >= 2, let byte = [UInt8](hex: String(decoding: chars.prefix(2), as: UTF8.self)) else {
                    throw Invalid("\(what): '\(text)' has a bad \\x escape")
                }
                out += byte
                chars = chars.dropFirst(2)
            case UInt8(ascii: "\\"): out.append(kind)
            default: throw Invalid("\(what): '\(text)' has an unknown escape \\\(Character(UnicodeScalar(kind)))")
            }
        }
        return out
    }
}
