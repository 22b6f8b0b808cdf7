import Foundation

/// Which tables a restore takes, in TiDB's table-filter syntax as BR's `--filter` accepts it:
/// `db.tbl` rules with wildcards (`*`, `?`, `[a-z]`, `[!a-z]`), `\` escapes, quoted names
/// (`"db"` or `` `db` ``), `/regex/` patterns, `!` to exclude, `#` comments and `@file` (the rules
/// of a file, one per line). The last rule that
/// matches a table decides; a table that no rule matches is left out. Names match without regard
/// to case, as BR's default.
public struct TableFilter {
    public struct Invalid: Error, CustomStringConvertible {
        public var rule: String
        public var reason: String
        public var description: String { "--filter '\(rule)': \(reason)" }
    }

    struct Rule {
        var schema: NamePattern
        var table: NamePattern
        var include: Bool
    }

    let rules: [Rule]
    let caseSensitive: Bool

    public init(_ rules: [String], caseSensitive: Bool = false) throws(Invalid) {
        var lines: [String] = []
        for text in rules {
            let line = Substring(text).trimmingSpacesAndTabs
            guard line.first == "@" else {
                lines.append(text)
                continue
            }
            let path = String(line.dropFirst())
            guard let data = FileManager.default.contents(atPath: path) else { throw Invalid(rule: text, reason: "cannot read the filter file \(path)") }
            for imported in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
                guard imported.trimmingSpacesAndTabs.first != "@" else { throw Invalid(rule: String(imported), reason: "a filter file cannot import another (in \(path))") }
                lines.append(String(imported))
            }
        }
        var parsed: [Rule] = []
        for text in lines {
            var line = Substring(text).trimmingSpacesAndTabs
            guard let first = line.first, first != "#" else { continue }
            let include = first != "!"
            if !include { line = line.dropFirst() }
            do throws(NamePattern.SyntaxError) {
                let schema = try NamePattern.parse(&line)
                guard line.first == "." else {
                    throw NamePattern.SyntaxError(line.isEmpty ? "a rule needs a schema and a table pattern, as db.tbl" : "missing '.' between schema and table patterns")
                }
                line = line.dropFirst()
                let table = try NamePattern.parse(&line)
                guard line.isEmpty else { throw NamePattern.SyntaxError("stray characters after the table pattern: '\(line)'") }
                parsed.append(Rule(schema: schema, table: table, include: include))
            } catch {
                throw Invalid(rule: text, reason: error.reason)
            }
        }
        self.rules = parsed
        self.caseSensitive = caseSensitive
    }

    public func matches(schema: String, table: String) -> Bool {
        for rule in rules.reversed() where rule.schema.matches(schema, caseSensitive: caseSensitive) && rule.table.matches(table, caseSensitive: caseSensitive) {
            return rule.include
        }
        return false
    }
}

/// One side of a rule: a literal name, a wildcard pattern or a regular expression.
enum NamePattern {
    case literal(String)
    case wildcard([GlobToken])
    case regex(String)

    struct SyntaxError: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// Parses a pattern from the front of `line`, leaving what follows it; an unquoted pattern
    /// ends at a `.`.
    static func parse(_ line: inout Substring) throws(SyntaxError) -> NamePattern {
        guard let first = line.first else { throw SyntaxError("missing pattern") }
        switch first {
        case "/":
            let pattern = try parseDelimited(&line, quote: "/", doubledEscapes: false)
            guard (try? Regex(pattern)) != nil else { throw SyntaxError("invalid regexp /\(pattern)/") }
            return .regex(pattern)
        case "\"", "`": return .literal(try parseDelimited(&line, quote: first, doubledEscapes: true))
        default: return try parseWildcard(&line)
        }
    }

    /// A quoted name (a doubled quote is one quote) or a `/regex/` (a `\` escapes the next character).
    private static func parseDelimited(_ line: inout Substring, quote: Character, doubledEscapes: Bool) throws(SyntaxError) -> String {
        var body = ""
        var rest = line.dropFirst()
        while let c = rest.first {
            rest = rest.dropFirst()
            if c == quote {
                if doubledEscapes, rest.first == quote {
                    body.append(quote)
                    rest = rest.dropFirst()
                    continue
                }
                guard !body.isEmpty else { break }
                line = rest
                return body
            }
            body.append(c)
            if !doubledEscapes, c == "\\", let next = rest.first {
                body.append(next)
                rest = rest.dropFirst()
            }
        }
        throw SyntaxError(quote == "/" ? "incomplete regexp" : "incomplete quoted identifier")
    }

    private static func parseWildcard(_ line: inout Substring) throws(SyntaxError) -> NamePattern {
        var tokens: [GlobToken] = []
        var isLiteral = true
        while let c = line.first, c != "." {
            switch c {
            case "\\":
                line = line.dropFirst()
                guard let escaped = line.first else { throw SyntaxError("cannot place \\ at the end of a rule") }
                guard !escaped.isASCIIAlphanumeric else { throw SyntaxError("cannot escape a letter or number (\\\(escaped)), it is reserved") }
                tokens.append(.character(escaped))
                line = line.dropFirst()
            case "*":
                isLiteral = false
                tokens.append(.anyRun)
                line = line.dropFirst()
            case "?":
                isLiteral = false
                tokens.append(.anyOne)
                line = line.dropFirst()
            case "[":
                isLiteral = false
                tokens.append(try parseClass(&line))
            default:
                guard c == "$" || c == "_" || c.isASCIIAlphanumeric || !c.isASCII else { throw SyntaxError("unexpected special character '\(c)'") }
                tokens.append(.character(c))
                line = line.dropFirst()
            }
        }
        guard !tokens.isEmpty else { throw SyntaxError("missing pattern") }
        if isLiteral { return .literal(String(tokens.map { if case let .character(c) = $0 { c } else { "?" } })) }
        return .wildcard(tokens)
    }

    /// `[a-z_]`, `[!0-9]` (not these), with `\` escaping a character that is not a letter or digit.
    private static func parseClass(_ line: inout Substring) throws(SyntaxError) -> GlobToken {
        var rest = line.dropFirst()
        var members: [Character] = []
        while let c = rest.first, c != "]" {
            rest = rest.dropFirst()
            if c == "\\" {
                guard let escaped = rest.first, !escaped.isASCIIAlphanumeric else { throw SyntaxError("failed to parse character class") }
                members.append(escaped)
                rest = rest.dropFirst()
            } else {
                members.append(c)
            }
        }
        guard rest.first == "]", !members.isEmpty else { throw SyntaxError("failed to parse character class") }
        line = rest.dropFirst()
        let negated = members.first == "!"
        if negated { members.removeFirst() }
        guard !members.isEmpty else { throw SyntaxError("failed to parse character class: [!] names no character") }
        var ranges: [ClosedRange<Character>] = []
        var i = 0
        while i < members.count {
            if i + 2 < members.count, members[i + 1] == "-" {
                guard members[i] <= members[i + 2] else { throw SyntaxError("invalid range \(members[i])-\(members[i + 2]) in a character class") }
                ranges.append(members[i]...members[i + 2])
                i += 3
            } else {
                ranges.append(members[i]...members[i])
                i += 1
            }
        }
        return .oneOf(ranges, negated: negated)
    }

    func matches(_ name: String, caseSensitive: Bool) -> Bool {
        switch self {
        case let .literal(literal):
            return caseSensitive ? literal == name : literal.lowercased() == name.lowercased()
        case let .wildcard(tokens):
            return GlobToken.match(tokens[...], Array(name)[...], caseSensitive: caseSensitive)
        case let .regex(pattern):
            guard var regex = try? Regex(pattern) else { return false }
            if !caseSensitive { regex = regex.ignoresCase() }
            return (try? regex.firstMatch(in: name)) != nil
        }
    }
}

/// One element of a wildcard pattern.
enum GlobToken {
    case character(Character)
    case anyOne
    case anyRun
    case oneOf([ClosedRange<Character>], negated: Bool)

    func matches(_ c: Character, caseSensitive: Bool) -> Bool {
        let candidates = caseSensitive ? [c] : [c, Character(c.lowercased()), Character(c.uppercased())]
        switch self {
        case let .character(expected): return candidates.contains(expected)
        case .anyOne, .anyRun: return true
        case let .oneOf(ranges, negated): return candidates.contains { c in ranges.contains { $0.contains(c) } } != negated
        }
    }

    /// Whether the tokens match the whole name; a run tries every length, shortest first.
    static func match(_ tokens: ArraySlice<GlobToken>, _ name: ArraySlice<Character>, caseSensitive: Bool) -> Bool {
        guard let token = tokens.first else { return name.isEmpty }
        if case .anyRun = token {
            var rest = name
            while true {
                if match(tokens.dropFirst(), rest, caseSensitive: caseSensitive) { return true }
                guard !rest.isEmpty else { return false }
                rest = rest.dropFirst()
            }
        }
        guard let c = name.first, token.matches(c, caseSensitive: caseSensitive) else { return false }
        return match(tokens.dropFirst(), name.dropFirst(), caseSensitive: caseSensitive)
    }
}

extension Substring {
    var trimmingSpacesAndTabs: Substring {
        var s = self
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return s
    }
}

extension Character {
    var isASCIIAlphanumeric: Bool { isASCII && (isLetter || isNumber) }
}
