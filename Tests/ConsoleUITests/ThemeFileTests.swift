import Testing
@testable import ConsoleUI

/// The theme file parser: the TOML that themes use, and a precise error for everything else.
@Suite struct ThemeFileTests {
    @Test func tablesInlineTablesAndEveryValueKind() throws {
        let file = try ThemeFile.parse("""
            # a comment
            name = "x # not a comment" # a comment
            base = 'none'
            error = { fg = "#ff0000", bold = true, bg = 236 }
            [header]
            fg = "tab\\there \\u00e9"
            underline = false
            "quoted key" = -3
            """)
        #expect(file.keys == ["name", "base", "error", "header"])
        #expect(file["name"] == .string("x # not a comment"))
        #expect(file["base"] == .string("none"))
        #expect(file["error"]?.table?["bold"] == .bool(true))
        #expect(file["error"]?.table?["bg"] == .integer(236))
        #expect(file["header"]?.table?["fg"] == .string("tab\there é"))
        #expect(file["header"]?.table?["quoted key"] == .integer(-3))
        #expect(try Theme.parse("error = { fg = 196 }", source: "t").styles[.error]?.fg == ThemeColor("196"))
    }

    @Test(arguments: [
        ("a = ", "line 1: expected a value"),
        ("a = \"open", "line 1: unterminated string"),
        ("a = 1\na = 2", "line 2: a is set twice"),
        ("[t]\n[t]", "line 2: [t] is defined twice"),
        ("a.b = 1", "line 1: dotted keys are not supported"),
        ("a = { b = 1", "line 1: an inline table must end on its line"),
        ("a = yes", "line 1: 'yes' is not a value"),
        ("a = \"\\q\"", "line 1: unknown escape \\q"),
        ("a = 1 2", "line 1: unexpected text after the value"),
        ("= 1", "line 1: expected a key"),
    ])
    func malformedFilesNameTheirLine(text: String, message: String) {
        #expect(throws: ThemeFile.SyntaxError.self) { try ThemeFile.parse(text) }
        do {
            _ = try ThemeFile.parse(text)
        } catch {
            #expect(error.description.hasPrefix(message), "\(error.description)")
        }
    }
}
