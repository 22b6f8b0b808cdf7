import CNCursesW

/// One terminal cell: a character, its role and whether it is bold. A wide character fills its cell
/// and marks the next one as its continuation.
public struct Cell: Equatable, Sendable {
    public var character: Character
    public var role: ColorRole
    public var bold: Bool
    /// The right half of a wide character; never drawn by itself.
    public var isContinuation: Bool

    public init(_ character: Character = " ", role: ColorRole = .normal, bold: Bool = false, isContinuation: Bool = false) {
        self.character = character
        self.role = role
        self.bold = bold
        self.isContinuation = isContinuation
    }

    public static let blank = Cell()
}

/// A grid of cells that widgets draw into. The terminal writes only the cells that differ from the
/// previous frame, and tests read the grid as text.
public struct ScreenBuffer: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public private(set) var cells: [Cell]

    public init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: .blank, count: self.width * self.height)
    }

    public var area: Rect { Rect(x: 0, y: 0, width: width, height: height) }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
        set { cells[y * width + x] = newValue }
    }

    /// Display width of a character in cells: 0, 1 or 2.
    public static func displayWidth(_ c: Character) -> Int { DisplayWidth.columns(c) }

    /// Writes `text` from (x, y), clipped to `clip` (the whole buffer by default). Returns the
    /// number of columns used.
    @discardableResult
    public mutating func write(_ text: some StringProtocol, x: Int, y: Int, role: ColorRole = .normal, bold: Bool = false, clip: Rect? = nil) -> Int {
        let bounds = (clip ?? area).intersection(area)
        guard y >= bounds.y, y < bounds.maxY else { return 0 }
        var column = x
        // Most of a frame's text is ASCII: a byte is a character there, and its width is 1 (or 0
        // for a control), without breaking the text into grapheme clusters.
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            for byte in text.utf8 where DisplayWidth.isPrintableASCII(byte) {
                if column + 1 > bounds.maxX { break }
                if column >= bounds.x { self[column, y] = Cell(Character(Unicode.Scalar(byte)), role: role, bold: bold) }
                column += 1
            }
            return max(0, column - x)
        }
        for c in text {
            let w = Self.displayWidth(c)
            if w == 0 { continue }
            if column + w > bounds.maxX { break }
            if column >= bounds.x {
                self[column, y] = Cell(c, role: role, bold: bold)
                if w == 2 { self[column + 1, y] = Cell(" ", role: role, bold: bold, isContinuation: true) }
            }
            column += w
        }
        return max(0, column - x)
    }

    public mutating func fill(_ rect: Rect, with cell: Cell = .blank) {
        let r = rect.intersection(area)
        for y in r.y..<r.maxY {
            for x in r.x..<r.maxX { self[x, y] = cell }
        }
    }

    /// Sets the role of every cell in `rect`, keeping the characters.
    public mutating func paint(_ rect: Rect, role: ColorRole, bold: Bool? = nil) {
        let r = rect.intersection(area)
        for y in r.y..<r.maxY {
            for x in r.x..<r.maxX {
                self[x, y].role = role
                if let bold { self[x, y].bold = bold }
            }
        }
    }

    /// Row `y` as text, with trailing spaces kept.
    public func line(_ y: Int) -> String {
        var s = ""
        for x in 0..<width where !self[x, y].isContinuation { s.append(self[x, y].character) }
        return s
    }

    public var lines: [String] { (0..<height).map(line) }

    /// The positions whose cells differ from `previous`; all of them when the sizes differ.
    public func changes(since previous: ScreenBuffer?) -> [(x: Int, y: Int)] {
        var out: [(x: Int, y: Int)] = []
        let sameSize = previous.map { $0.width == width && $0.height == height } ?? false
        for y in 0..<height {
            for x in 0..<width {
                let i = y * width + x
                if !sameSize || previous!.cells[i] != cells[i] { out.append((x, y)) }
            }
        }
        return out
    }
}
