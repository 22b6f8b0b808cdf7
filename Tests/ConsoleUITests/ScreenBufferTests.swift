import Testing
@testable import ConsoleUI

@Suite struct ScreenBufferTests {
    @Test func writesAreClippedToTheBufferAndTheClipRect() {
        var buffer = ScreenBuffer(width: 10, height: 2)
        #expect(buffer.write("hello world", x: 2, y: 0, role: .header) == 8)
        #expect(buffer.line(0) == "  hello wo")
        #expect(buffer[2, 0].role == .header)
        #expect(buffer.write("abcdef", x: 0, y: 1, clip: Rect(x: 1, y: 1, width: 3, height: 1)) == 4)
        #expect(buffer.line(1) == " bcd      ")
        #expect(buffer.write("x", x: 0, y: 5) == 0)
    }

    @Test func changesListOnlyDifferingCells() {
        var a = ScreenBuffer(width: 4, height: 2)
        a.write("ab", x: 0, y: 0)
        var b = a
        b.write("Z", x: 3, y: 1, role: .error)
        #expect(b.changes(since: a).map { [$0.x, $0.y] } == [[3, 1]])
        b.paint(Rect(x: 0, y: 0, width: 1, height: 1), role: .ok)
        #expect(b.changes(since: a).count == 2)
        #expect(a.changes(since: nil).count == 8)
        #expect(a.changes(since: ScreenBuffer(width: 3, height: 2)).count == 8)
    }

    @Test func rectGeometry() {
        let r = Rect(x: 2, y: 3, width: 10, height: 5)
        #expect(r.inset(by: 1) == Rect(x: 3, y: 4, width: 8, height: 3))
        #expect(r.intersection(Rect(x: 0, y: 0, width: 4, height: 4)) == Rect(x: 2, y: 3, width: 2, height: 1))
        #expect(r.intersection(Rect(x: 50, y: 50, width: 1, height: 1)).isEmpty)
        #expect(r.contains(x: 11, y: 7) && !r.contains(x: 12, y: 7))
    }
}
