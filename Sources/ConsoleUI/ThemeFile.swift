/// The part of TOML that theme files use, parsed strictly: `# comments`, `key = value` lines,
/// `[table]` headers, and values that are strings ("basic" with escapes, or 'literal'), integers,
/// booleans and one-line inline tables `{ key = value, ... }`. Anything else is an error that
/// names its line; no input can crash the parser (it is fuzzed, see Docs/RELIABILITY.md).
struct ThemeFile {
    indirect enum Value: Equatable, CustomStringConvertible {
        case string(String)
        case integer(Int)
        case bool(Bool)
        case table(Table)

        var string: String? { if case let .string(s) = self { s } else { nil } }
        var bool: Bool? { if case let .bool(b) = self { b } else { nil } }
        var integer: Int? { if case let .integer(i) = self { i } else { nil } }
        var table: Table? { if case let .table(t) = self { t } else { nil } }

        var description: String {
            switch self {
            case let .string(s): "\"\(s)\""
            case let .integer(i): "\(i)"
            case let .bool(b): "\(b)"
            case .table: "{...}"
            }
        }
    }

    /// Keys in the order they were written, so errors come out in file order.
    struct Table: Equatable {
        private(set) var keys: [String] = []
        private var values: [String: Value] = [:]

        subscript(key: String) -> Value? { values[key] }

        /// False when the key is already there.
        mutating func insert(_ key: String, _ value: Value) -> Bool {
            guard values[key] == nil else { return false }
            keys.append(key)
            values[key] = value
            return true
        }

        mutating func update(_ key: String, _ body: (inout Table) -> Void) {
            guard case var .table(table) = values[key] else { return }
            body(&table)
            values[key] = .table(table)
        }
    }

    struct SyntaxError: Error, CustomStringConvertible {
        let line: Int
        let reason: String
        var description: String { "line \(line): \(reason)" }
    }

    static func parse(_ text: String) throws(SyntaxError) -> Table {
        var root = Table()
        var current: String?  // the [table] that key = value lines go into
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var scanner = Scanner(Array(line.utf8), line: number + 1)
            scanner.skipBlank()
            guard !scanner.atEndOfLine else { continue }
            if scanner.peek == UInt8(ascii: "[") {
                scanner.advance()
                scanner.skipBlank()
                let name = try scanner.key()
                scanner.skipBlank()
                try scanner.expect("]")
                try scanner.expectEndOfLine()
                guard root.insert(name, .table(Table())) else { throw scanner.error("[\(name)] is defined twice") }
                current = name
                continue
            }
            let (key, value) = try scanner.keyValue()
            try scanner.expectEndOfLine()
            var inserted = true
            if let current {
                root.update(current) { inserted = $0.insert(key, value) }
            } else {
                inserted = root.insert(key, value)
            }
            guard inserted else { throw scanner.error("\(key) is set twice") }
        }
        return root
    }

    /// Reads one line.
    private struct Scanner {
        let bytes: [UInt8]
        let line: Int
        var position = 0

        init(_ bytes: [UInt8], line: Int) {
            self.bytes = bytes.last == UInt8(ascii: "\r") ? Array(bytes.dropLast()) : bytes
            self.line = line
        }

        var peek: UInt8? { position < bytes.count ? bytes[position] : nil }
        var atEndOfLine: Bool { peek == nil || peek == UInt8(ascii: "#") }

        mutating func advance() { position += 1 }

        mutating func skipBlank() {
            while peek == UInt8(ascii: " ") || peek == UInt8(ascii: "\t") { advance() }
        }

        func error(_ reason: String) -> SyntaxError { SyntaxError(line: line, reason: reason) }

        mutating func expect(_ character: Character) throws(SyntaxError) {
            guard peek == character.asciiValue else { throw error("expected '\(character)'") }
            advance()
        }

        mutating func expectEndOfLine() throws(SyntaxError) {
            skipBlank()
            guard atEndOfLine else { throw error("unexpected text after the value") }
        }

        /// A bare key (letters, digits, `_`, `-`) or a quoted one.
        mutating func key() throws(SyntaxError) -> String {
            if peek == UInt8(ascii: "\"") || peek == UInt8(ascii: "'") { return try string() }
            let start = position
            while let c = peek, c.isBareKeyCharacter { advance() }
            guard position > start else { throw error("expected a key") }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }

        mutating func keyValue() throws(SyntaxError) -> (String, Value) {
            let key = try key()
            skipBlank()
            if peek == UInt8(ascii: ".") { throw error("dotted keys are not supported: use a [table] or { ... }") }
            try expect("=")
            skipBlank()
            return (key, try value())
        }

        mutating func value() throws(SyntaxError) -> Value {
            guard let c = peek else { throw error("expected a value") }
            switch c {
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                return .string(try string())
            case UInt8(ascii: "{"):
                return .table(try inlineTable())
            case UInt8(ascii: "t"), UInt8(ascii: "f"):
                let word = self.word()
                switch word {
                case "true": return .bool(true)
                case "false": return .bool(false)
                default: throw error("'\(word)' is not a value")
                }
            default:
                let word = self.word()
                guard let number = Int(word.replacingOccurrences(of: "_", with: "")) else { throw error("'\(word)' is not a value") }
                return .integer(number)
            }
        }

        /// Characters up to the next separator.
        private mutating func word() -> String {
            let start = position
            while let c = peek, c.isBareKeyCharacter || c == UInt8(ascii: "+") { advance() }
            if position == start { advance() }  // always consume something, so errors name it
            return String(decoding: bytes[start..<min(position, bytes.count)], as: UTF8.self)
        }

        mutating func inlineTable() throws(SyntaxError) -> Table {
            try expect("{")
            var table = Table()
            skipBlank()
            if peek == UInt8(ascii: "}") {
                advance()
                return table
            }
            while true {
                skipBlank()
                let (key, value) = try keyValue()
                guard table.insert(key, value) else { throw error("\(key) is set twice") }
                skipBlank()
                guard let c = peek else { throw error("an inline table must end on its line with '}'") }
                advance()
                if c == UInt8(ascii: "}") { return table }
                guard c == UInt8(ascii: ",") else { throw error("expected ',' or '}' in an inline table") }
            }
        }

        /// A basic string ("..." with escapes) or a literal one ('...').
        mutating func string() throws(SyntaxError) -> String {
            let quote = peek!
            advance()
            var out: [UInt8] = []
            while true {
                guard let c = peek else { throw error("unterminated string") }
                advance()
                if c == quote { return String(decoding: out, as: UTF8.self) }
                guard quote == UInt8(ascii: "\""), c == UInt8(ascii: "\\") else {
                    out.append(c)
                    continue
                }
                guard let e = peek else { throw error("unterminated string") }
                advance()
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(e)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"), UInt8(ascii: "U"):
                    let length = e == UInt8(ascii: "u") ? 4 : 8
                    guard position + length <= bytes.count,
                          let code = UInt32(String(decoding: bytes[position..<(position + length)], as: UTF8.self), radix: 16),
                          let scalar = Unicode.Scalar(code)
                    else { throw error("bad \\u escape") }
                    out += Array(String(Character(scalar)).utf8)
                    position += length
                default:
                    throw error("unknown escape \\\(Character(Unicode.Scalar(e)))")
                }
            }
        }
    }
}

private extension UInt8 {
    var isBareKeyCharacter: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || self == UInt8(ascii: "_") || self == UInt8(ascii: "-")
    }
}
