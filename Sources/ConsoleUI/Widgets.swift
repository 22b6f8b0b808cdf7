/// Small drawing helpers over `ScreenBuffer`: boxes, bars, sparklines, aligned text.
public struct BoxStyle: Sendable {
    let horizontal, vertical, topLeft, topRight, bottomLeft, bottomRight, teeDown, teeUp: Character

    public static let unicode = BoxStyle(horizontal: "─", vertical: "│", topLeft: "┌", topRight: "┐", bottomLeft: "└", bottomRight: "┘", teeDown: "┬", teeUp: "┴")
    public static let ascii = BoxStyle(horizontal: "-", vertical: "|", topLeft: "+", topRight: "+", bottomLeft: "+", bottomRight: "+", teeDown: "+", teeUp: "+")
}

extension ScreenBuffer {
    /// A frame around `rect` with a title in its top edge.
    public mutating func box(_ rect: Rect, title: String = "", style: BoxStyle, role: ColorRole = .border, titleRole: ColorRole = .title) {
        guard rect.width >= 2, rect.height >= 2 else { return }
        // Cell by cell: the style's characters are one column wide.
        func put(_ c: Character, _ x: Int, _ y: Int) {
            if x >= 0, x < width, y >= 0, y < height { self[x, y] = Cell(c, role: role) }
        }
        for x in (rect.x + 1)..<(rect.maxX - 1) {
            put(style.horizontal, x, rect.y)
            put(style.horizontal, x, rect.maxY - 1)
        }
        put(style.topLeft, rect.x, rect.y)
        put(style.topRight, rect.maxX - 1, rect.y)
        put(style.bottomLeft, rect.x, rect.maxY - 1)
        put(style.bottomRight, rect.maxX - 1, rect.maxY - 1)
        for y in (rect.y + 1)..<(rect.maxY - 1) {
            put(style.vertical, rect.x, y)
            put(style.vertical, rect.maxX - 1, y)
        }
        if !title.isEmpty { write(" \(title) ", x: rect.x + 2, y: rect.y, role: titleRole, clip: Rect(x: rect.x + 1, y: rect.y, width: rect.width - 2, height: 1)) }
    }

    /// A horizontal bar `width` cells long, filled to `fraction`: in colour, or as `[###...]`
    /// between brackets that stay inside the width.
    public mutating func bar(x: Int, y: Int, width: Int, fraction: Double, unicode: Bool) {
        let fraction = min(1, max(0, fraction))
        if unicode {
            guard width > 0 else { return }
            let filled = Int((fraction * Double(width)).rounded(.down))
            write(String(repeating: " ", count: filled), x: x, y: y, role: .progress)
            write(String(repeating: " ", count: width - filled), x: x + filled, y: y, role: .progressEmpty)
        } else {
            guard width >= 2 else { return }
            let inner = width - 2, filled = Int((fraction * Double(inner)).rounded(.down))
            write("[" + String(repeating: "#", count: filled), x: x, y: y, role: .ok)
            write(String(repeating: ".", count: inner - filled) + "]", x: x + 1 + filled, y: y, role: .dim)
        }
    }
}

public enum Sparkline {
    static let levels: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
    static let asciiLevels: [Character] = ["_", ".", "-", "~", "=", "+", "*", "#"]

    /// The last `width` samples scaled to `maximum`.
    public static func render(_ samples: [Double], width: Int, maximum: Double, unicode: Bool) -> String {
        let set = unicode ? levels : asciiLevels
        let tail = samples.suffix(width)
        let top = max(maximum, tail.max() ?? 0, 1)
        let chars = tail.map { v in set[min(set.count - 1, Int(v / top * Double(set.count - 1) + 0.5))] }
        return String(repeating: " ", count: max(0, width - chars.count)) + String(chars)
    }
}

/// Text fitted to `width` terminal columns: cut with an ellipsis, or padded. Wide characters
/// count two columns, so columns of CJK names stay aligned.
public func fit(_ text: String, _ width: Int, right: Bool = false) -> String {
    guard width > 0 else { return "" }
    var used = DisplayWidth.columns(text)
    var shown = text
    if used > width {
        shown = ""
        used = 0
        for c in text {
            let w = DisplayWidth.columns(c)
            if used + w > width - 1 { break }
            shown.append(c)
            used += w
        }
        shown += "…"
        used += 1
    }
    let pad = String(repeating: " ", count: max(0, width - used))
    return right ? pad + shown : shown + pad
}

/// Seconds as `m:ss` or `h:mm:ss`.
public func clockText(_ seconds: Double) -> String {
    let s = Int(max(0, seconds))
    return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
}

import Foundation
