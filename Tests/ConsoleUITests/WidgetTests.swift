import Testing
@testable import ConsoleUI
@testable import ClusterAPI
@testable import RestoreDriver

/// The widgets drawn into small buffers and compared whole, as ratatui's tests compare buffers:
/// every line of text, and the role of every cell by a letter of `roleLetters`.
@Suite struct WidgetTests {
    static let roleLetters: [ColorRole: Character] = [
        .normal: " ", .header: "H", .title: "T", .border: "B", .selected: "S", .dim: "D", .label: "L", .key: "K", .info: "I", .accent: "A",
        .ok: "O", .warn: "W", .error: "R", .paused: "U", .graph: "G", .progress: "P", .progressEmpty: "E", .leader: "X",
    ]

    /// The buffer's roles, a letter a cell (wide characters take two).
    static func roles(_ b: ScreenBuffer) -> [String] {
        (0..<b.height).map { y in String((0..<b.width).map { x in roleLetters[b[x, y].role]! }) }
    }

    static func expectBuffer(_ b: ScreenBuffer, lines: [String], roles: [String]? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(b.lines == lines, "text:\n\(b.lines.joined(separator: "\n"))", sourceLocation: sourceLocation)
        if let roles { #expect(Self.roles(b) == roles, "roles:\n\(Self.roles(b).joined(separator: "\n"))", sourceLocation: sourceLocation) }
    }

    @Test func aBoxFramesItsAreaWithItsTitleInTheTopEdge() {
        var b = ScreenBuffer(width: 12, height: 4)
        b.box(b.area, title: "r7", style: .unicode)
        Self.expectBuffer(
            b,
            lines: ["┌─ r7 ─────┐", "│          │", "│          │", "└──────────┘"],
            roles: ["BBTTTTBBBBBB", "B          B", "B          B", "BBBBBBBBBBBB"])
    }

    @Test func aTitleTooLongForItsBoxIsCutInsideTheCorners() {
        var b = ScreenBuffer(width: 8, height: 3)
        b.box(b.area, title: "a long title", style: .ascii)
        Self.expectBuffer(b, lines: ["+- a lo+", "|      |", "+------+"], roles: ["BBTTTTTB", "B      B", "BBBBBBBB"])
    }

    @Test func aBoxTooSmallToFrameAnythingDrawsNothing() {
        var b = ScreenBuffer(width: 3, height: 1)
        b.box(b.area, title: "x", style: .unicode)
        Self.expectBuffer(b, lines: ["   "], roles: ["   "])
    }

    /// In colour, the filled part is the progress role; in ASCII, brackets that stay inside the width.
    @Test(arguments: [
        (0.0, "[........]", "ODDDDDDDDD", "EEEEEEEEEE"),
        (0.37, "[##......]", "OOODDDDDDD", "PPPEEEEEEE"),
        (0.5, "[####....]", "OOOOODDDDD", "PPPPPEEEEE"),
        (1.0, "[########]", "OOOOOOOOOD", "PPPPPPPPPP"),
        (1.7, "[########]", "OOOOOOOOOD", "PPPPPPPPPP"),
    ])
    func aBarFillsItsWidthAndNoMore(fraction: Double, ascii: String, asciiRoles: String, colourRoles: String) {
        var b = ScreenBuffer(width: 12, height: 2)
        b.bar(x: 1, y: 0, width: 10, fraction: fraction, unicode: false)
        b.bar(x: 1, y: 1, width: 10, fraction: fraction, unicode: true)
        Self.expectBuffer(b, lines: [" \(ascii) ", String(repeating: " ", count: 12)], roles: [" \(asciiRoles) ", " \(colourRoles) "])
    }

    @Test func aSparklineScalesItsLastSamplesToItsWidth() {
        #expect(Sparkline.render([0, 1, 2, 3, 4, 5, 6, 7], width: 10, maximum: 7, unicode: true) == "  ▁▂▃▄▅▆▇█")
        #expect(Sparkline.render([9, 0, 1, 2, 3, 4, 5, 6, 7], width: 8, maximum: 7, unicode: true) == "▁▂▃▄▅▆▇█", "only the last 8 samples")
        #expect(Sparkline.render([0, 14], width: 4, maximum: 7, unicode: false) == "  _#", "a sample above the maximum raises the scale")
        #expect(Sparkline.render([], width: 3, maximum: 0, unicode: true) == "   ")
    }

    @Test func textIsFittedByColumnsWithWideCharactersCountingTwo() {
        #expect(fit("区域abc", 7) == "区域abc")
        #expect(fit("区域abc", 6) == "区域a…")
        #expect(fit("区域abc", 5) == "区域…")
        #expect(fit("区域abc", 4) == "区… ", "a wide character that does not fit leaves a column of padding")
        #expect(fit("ab", 5, right: true) == "   ab")
        #expect(fit("ab", 0) == "")
    }

    /// An overlay's frame, 65 cells wide, centred in a buffer 70 wide with a blank line above and
    /// below: its title, and each row's text (padded to 61 cells) in the role of its letter.
    static func overlay(title: String, rows: [(String, Character)], unicode: Bool) -> (lines: [String], roles: [String]) {
        let (h, top, bottom, side): (Character, String, String, String) = unicode ? ("─", "┌", "┘", "│") : ("-", "+", "+", "|")
        let blank = String(repeating: " ", count: 70)
        let titleText = " \(title) "
        var lines = [blank, "  \(top)\(h)" + titleText + String(repeating: h, count: 63 - 1 - titleText.count) + (unicode ? "┐" : "+") + "   "]
        var roles = [blank, "  BB" + String(repeating: "T", count: titleText.count) + String(repeating: "B", count: 63 - titleText.count) + "   "]
        for (text, role) in rows {
            lines.append("  \(side) " + text + String(repeating: " ", count: 61 - DisplayWidth.columns(text)) + " \(side)   ")
            roles.append("  B " + String(repeating: role, count: 61) + " B   ")
        }
        lines += ["  " + (unicode ? "└" : "+") + String(repeating: h, count: 63) + bottom + "   ", blank]
        roles += ["  " + String(repeating: "B", count: 65) + "   ", blank]
        return (lines, roles)
    }

    /// Too wide for the full words, each store is shown in the Stores panel's short ones; a
    /// panicked store in the error role, with its reason.
    @Test func theStoresOverlayShowsEveryStoreInItsFrame() {
        let up = StoreRow(
            id: 1, state: .up, leaders: 2, downloadsInFlight: 3, downloadSlots: 4, ingestsQueued: 1, bytesPerSecond: 0, rateLimit: 0, bytesDownloaded: 0,
            bytesIngested: 0, history: [])
        var panicked = up
        panicked.id = 2
        panicked.state = .panicked(reason: "ingest failed")
        var b = ScreenBuffer(width: 70, height: 6)
        StoresOverlay(stores: [up, panicked], unicode: false).render(into: &b)
        let expected = Self.overlay(
            title: "Stores 2  (any key closes)",
            rows: [("s1  up  leaders 2  dl 3/4  ingest q 1  0 B/s no limit  in 0 B", " "), ("s2  PANICKED: ingest failed", "R")], unicode: false)
        Self.expectBuffer(b, lines: expected.lines, roles: expected.roles)
    }

    @Test func theTablesOverlayAlignsItsColumnsAndColoursEachTableByItsOutcome() {
        var done = TableRow(name: "orders", oldIDs: [100], newIDs: [9100], regions: 2, files: 3, kvs: 10, bytes: 0)
        done.filesDone = 3
        done.kvsDone = 10
        done.checksum = .matched
        var bad = TableRow(name: "客户", oldIDs: [101], newIDs: [9101], regions: 1, files: 1, kvs: 4, bytes: 0)
        bad.checksum = .mismatched
        var b = ScreenBuffer(width: 70, height: 7)
        TablesOverlay(tables: [done, bad], unicode: true).render(into: &b)
        // The widest cell of each column sets its width: 61 cells in all, so the frame is 65.
        let expected = Self.overlay(
            title: "Tables 2  (any key closes)",
            rows: [
                ("table   id         regions  files  kvs    bytes    checksum", "T"),
                ("orders  100->9100  2        3/3    10/10  0 B/0 B  matched", "O"),
                ("客户    101->9101  1        0/1    0/4    0 B/0 B  mismatched", "R"),
            ], unicode: true)
        Self.expectBuffer(b, lines: expected.lines, roles: expected.roles)
    }
}
