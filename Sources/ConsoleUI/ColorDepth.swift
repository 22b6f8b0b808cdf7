/// How many colours the terminal shows; theme colours are reduced to fit.
public enum ColorDepth: Int, Sendable, Comparable {
    case monochrome = 0
    case eight = 8
    case palette256 = 256
    case truecolor = 16_777_216

    public static func < (a: ColorDepth, b: ColorDepth) -> Bool { a.rawValue < b.rawValue }

    /// What the environment allows: NO_COLOR wins; COLORTERM=truecolor or 24bit asks for RGB.
    public static func detect(environment: [String: String], terminalColors: Int, canChangeColor: Bool) -> ColorDepth {
        if let noColor = environment["NO_COLOR"], !noColor.isEmpty { return .monochrome }
        if terminalColors <= 0 { return .monochrome }
        if terminalColors < 256 { return .eight }
        let colorterm = environment["COLORTERM"]?.lowercased() ?? ""
        if (colorterm == "truecolor" || colorterm == "24bit") && canChangeColor { return .truecolor }
        return .palette256
    }

    /// `color` as a palette index for this depth (-1: the terminal's default).
    public func index(of color: ThemeColor) -> Int {
        switch color {
        case .terminalDefault: return -1
        case let .palette(n): return self == .eight ? Int(n % 8) : Int(n)
        case let .rgb(r, g, b):
            if self == .eight { return Self.nearestANSI(r, g, b) }
            return Self.xterm256(r, g, b)
        }
    }

    /// The nearest entry of xterm's 6x6x6 cube or grey ramp.
    static func xterm256(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> Int {
        func level(_ v: UInt8) -> Int { v < 48 ? 0 : v < 115 ? 1 : (Int(v) - 35) / 40 }
        let levels = [0, 95, 135, 175, 215, 255]
        let (lr, lg, lb) = (level(r), level(g), level(b))
        let cube = 16 + 36 * lr + 6 * lg + lb
        let cubeError = abs(levels[lr] - Int(r)) + abs(levels[lg] - Int(g)) + abs(levels[lb] - Int(b))
        let grey = (Int(r) + Int(g) + Int(b)) / 3
        let greyIndex = grey > 238 ? 23 : max(0, (grey - 3) / 10)
        let greyValue = 8 + 10 * greyIndex
        let greyError = abs(greyValue - Int(r)) + abs(greyValue - Int(g)) + abs(greyValue - Int(b))
        return greyError < cubeError ? 232 + greyIndex : cube
    }

    /// The nearest of the eight ANSI colours.
    static func nearestANSI(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> Int {
        let bright = (Int(r) + Int(g) + Int(b)) / 3 > 200
        if bright, abs(Int(r) - Int(g)) < 40, abs(Int(g) - Int(b)) < 40 { return 7 }
        let threshold = max(Int(r), Int(g), Int(b)) / 2
        return (Int(r) > threshold ? 1 : 0) | (Int(g) > threshold ? 2 : 0) | (Int(b) > threshold ? 4 : 0)
    }
}
