import Foundation
import Testing
@testable import ConsoleUI
@testable import KeyCodec
@testable import ClusterAPI
@testable import RestoreDriver

@Suite struct DisplayWidthTests {
    /// (text, terminal columns)
    @Test(arguments: [
        ("orders", 6), ("订单表", 6), ("ｔａｂｌｅ", 10), ("한국어", 6), ("e\u{301}", 1), ("📦", 2), ("", 0),
    ] as [(String, Int)])
    func textIsMeasuredInColumns(text: String, columns: Int) {
        #expect(DisplayWidth.columns(text) == columns)
    }

    @Test func aColumnWithACJKTableNameStaysAligned() {
        var b = ScreenBuffer(width: 40, height: 3)
        for (y, name) in ["orders", "订单表", "订单明细表_2026_十二月"].enumerated() {
            b.write(fit(name, 12) + "|" + fit("42", 4, right: true), x: 0, y: y)
        }
        // The separator is in column 12 on every line, whatever the names' widths.
        for y in 0..<3 { #expect(b[12, y].character == "|", "line \(y): \(b.line(y))") }
        #expect(DisplayWidth.columns(fit("订单明细表_2026_十二月", 12)) == 12)
        #expect(fit("订单明细表_2026_十二月", 12).hasSuffix("…"))
    }
}
