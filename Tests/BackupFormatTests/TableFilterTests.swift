import Foundation
import Testing
@testable import TestSupport
@testable import BackupFormat

/// The table filter against the examples of TiDB's own table-filter tests (`TestMatchTables`,
/// `TestParseFailures2`, `TestImport2`): each case gives the rules, tables, and whether each is
/// taken case-sensitively and case-insensitively.
@Suite struct TableFilterTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var rules: [String]
        var tables: [(String, String)]
        var sensitive: [Bool]
        var insensitive: [Bool]
        var testDescription: String { rules.joined(separator: " ") }
    }

    static let cases: [Case] = [
        Case(rules: [], tables: [("foo", "bar")], sensitive: [false], insensitive: [false]),
        Case(rules: ["*.*"], tables: [("foo", "bar")], sensitive: [true], insensitive: [true]),
        Case(rules: ["foo.*"], tables: [("foo", "bar"), ("foo1", "bar"), ("foo2", "bar")], sensitive: [true, false, false], insensitive: [true, false, false]),
        Case(rules: ["*.*", "!foo1.*"], tables: [("foo", "bar"), ("foo1", "bar"), ("foo2", "bar")], sensitive: [true, false, true], insensitive: [true, false, true]),
        Case(rules: ["foo.bar1"], tables: [("foo", "bar"), ("foo", "bar1"), ("fff", "bar1")], sensitive: [false, true, false], insensitive: [false, true, false]),
        Case(rules: ["*.*", "!foo.bar"], tables: [("foo", "bar"), ("foo", "bar1"), ("fff", "bar1")], sensitive: [false, true, true], insensitive: [false, true, true]),
        Case(rules: ["/^foo/.*", #"!/^foo/./^sbtest-\d/"#], tables: [("foo", "sbtest"), ("foo1", "sbtest-1"), ("fff", "bar")], sensitive: [true, false, false], insensitive: [true, false, false]),
        Case(
            rules: ["*.*", "!foo[bar].*", "!bar?.*", #"!special\\.*"#],
            tables: [("foor", "a"), ("foo[bar]", "b"), ("ba", "c"), ("bar?", "d"), (#"special\"#, "e"), (#"special\\"#, "f"), ("bazzz", "g"), (#"special\$"#, "h"), ("afooa", "i")],
            sensitive: [false, true, true, false, false, true, true, true, true], insensitive: [false, true, true, false, false, true, true, true, true]),
        Case(
            rules: ["*.*", "!/^FOO/.*", "!*./FoO$/"], tables: [("FOO1", "a"), ("foo2", "b"), ("BoO3", "cFoO"), ("Foo4", "dfoo"), ("5", "5")],
            sensitive: [false, true, false, true, true], insensitive: [false, false, false, false, true]),
        Case(rules: ["*.*", "!a?b?./f[0-9]/"], tables: [("abbd", "f1"), ("aaaa", "f2"), ("5", "5"), ("abbc", "fa")], sensitive: [false, true, true, true], insensitive: [false, true, true, true]),
        Case(rules: ["*.*", "!/t[0-8]/.a??"], tables: [("t1", "a01"), ("t9", "a02"), ("5", "5"), ("t8", "a001")], sensitive: [false, true, true, true], insensitive: [false, true, true, true]),
        Case(rules: ["*.*", "!a*.A*"], tables: [("aB", "Ab"), ("AaB", "aab"), ("acB", "Afb")], sensitive: [false, true, false], insensitive: [false, false, false]),
        Case(rules: ["BAR.*"], tables: [("bar", "a"), ("BAR", "a")], sensitive: [false, true], insensitive: [true, true]),
        Case(rules: ["# comment", "x.y", "   \t"], tables: [("x", "y"), ("y", "y")], sensitive: [true, false], insensitive: [true, false]),
        Case(rules: ["p_123$.45", "中文.表名"], tables: [("p_123", "45"), ("p_123$", "45"), ("英文", "表名"), ("中文", "表名")], sensitive: [false, true, false, true], insensitive: [false, true, false, true]),
        Case(rules: [#"\\\..*"#], tables: [(#"\."#, "a"), (#"\\\."#, "b"), (#"\a"#, "c")], sensitive: [true, false, false], insensitive: [true, false, false]),
        Case(
            rules: ["[!a-z].[^a-z]"],
            tables: [("!", "z"), ("!", "^"), ("!", "9"), ("a", "z"), ("a", "^"), ("a", "9"), ("1", "z"), ("1", "^"), ("1", "9")],
            sensitive: [true, true, false, false, false, false, true, true, false], insensitive: [true, true, false, false, false, false, true, true, false]),
        Case(
            rules: ["\"some \"\"quoted\"\"\".`identifiers?`"],
            tables: [(#"some "quoted""#, "identifiers?"), (#"some "quoted""#, "identifiers!"), (#"some ""quoted"""#, "identifiers?"), (#"SOME "QUOTED""#, "IDENTIFIERS?"), ("some\t\"quoted\"", "identifiers?")],
            sensitive: [true, false, false, false, false], insensitive: [true, false, false, true, false]),
        Case(
            rules: ["db*.*", "!*.cfg*", "*.cfgsample"], tables: [("irrelevant", "table"), ("db1", "tbl1"), ("db1", "cfg1"), ("db1", "cfgsample"), ("else", "cfgsample")],
            sensitive: [false, true, false, true, true], insensitive: [false, true, false, true, true]),
        Case(rules: ["*.*", "!S.D[!a-d]"], tables: [("S", "D1"), ("S", "Da"), ("S", "Db"), ("S", "Daa")], sensitive: [false, true, true, true], insensitive: [false, true, true, true]),
        Case(rules: ["*.*", "!S.D[a-d]"], tables: [("S", "D1"), ("S", "Da"), ("S", "Db"), ("S", "Daa")], sensitive: [true, false, false, true], insensitive: [true, false, false, true]),
    ]

    @Test(arguments: cases)
    func tidbExamplesMatch(_ example: Case) throws {
        let sensitive = try TableFilter(example.rules, caseSensitive: true)
        let insensitive = try TableFilter(example.rules)
        for (i, (schema, table)) in example.tables.enumerated() {
            #expect(sensitive.matches(schema: schema, table: table) == example.sensitive[i], "case-sensitive \(schema).\(table)")
            #expect(insensitive.matches(schema: schema, table: table) == example.insensitive[i], "case-insensitive \(schema).\(table)")
        }
    }

    @Test(arguments: [
        ("a.b.c", "stray characters after the table pattern"),
        ("a%b.c", "unexpected special character '%'"),
        (#"a\tb.c"#, #"cannot escape a letter or number (\t)"#),
        ("[].*", "failed to parse character class"),
        ("[!].*", "failed to parse character class"),
        ("[.*", "failed to parse character class"),
        (#"[\d\D].*"#, "failed to parse character class"),
        ("db", "a rule needs a schema and a table pattern"),
        ("db.", "missing pattern"),
        ("`db`*.*", "missing '.' between schema and table patterns"),
        ("/db.*", "incomplete regexp"),
        ("`db.*", "incomplete quoted identifier"),
        (#""db.*"#, "incomplete quoted identifier"),
        (#"db\"#, #"cannot place \ at the end"#),
        ("db.tbl#not comment", "unexpected special character '#'"),
        ("/(/.*", "invalid regexp"),
    ])
    func tidbFailuresAreNamed(rule: String, reason: String) {
        #expect {
            _ = try TableFilter([rule])
        } throws: { error in
            let text = "\(error)"
            return text.contains(reason) && text.contains("'\(rule)'")
        }
    }

    @Test func rulesComeFromFilesButFilesDoNotNest() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("filter-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "\n\t\tdb?.tbl?\n\t\tdb02.tbl02\n\t".write(toFile: dir + "/1.txt", atomically: true, encoding: .utf8)
        try "\n\t\tdb03.tbl03\n\t\t!db4.tbl4\n\t".write(toFile: dir + "/2.txt", atomically: true, encoding: .utf8)
        let filter = try TableFilter(["@" + dir + "/1.txt", "@" + dir + "/2.txt", "db04.tbl04"], caseSensitive: true)
        for (schema, table, taken) in [("db1", "tbl1", true), ("db2", "tbl2", true), ("db3", "tbl3", true), ("db4", "tbl4", false), ("db01", "tbl01", false), ("db02", "tbl02", true), ("db03", "tbl03", true), ("db04", "tbl04", true)] {
            #expect(filter.matches(schema: schema, table: table) == taken, "\(schema).\(table)")
        }
        try "# comment\n\n@\(dir)/1.txt".write(toFile: dir + "/3.txt", atomically: true, encoding: .utf8)
        #expect(throws: TableFilter.Invalid.self) { try TableFilter(["@" + dir + "/3.txt"]) }
        #expect { try TableFilter(["@" + dir + "/missing.txt"]) } throws: { "\($0)".contains("cannot read the filter file \(dir)/missing.txt") }
    }
}
