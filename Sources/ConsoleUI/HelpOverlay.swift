/// `?`: every key, grouped.
public struct HelpOverlay {
    public var drills: Bool
    public var unicode: Bool

    public static func groups(drills: Bool) -> [(String, [(String, String)])] {
        var groups: [(String, [(String, String)])] = [
            ("Navigate", [("Up/Down j/k", "select a region"), ("PgUp/PgDn", "a page"), ("Home/End", "first / last"), ("Enter", "region detail"), ("Esc", "close, clear filter"), ("mouse", "click selects, wheel scrolls")]),
            ("Control", [("p", "pause / resume the region"), ("P", "pause / resume all"), ("r", "retry the failed region"), ("R", "retry every failed region"), ("+ / -", "download rate limit per store")]),
            ("View", [("/", "filter: state:failed table:104 store:2 wait:busy text"), ("w", "filter by what regions wait for (each reason in turn)"), ("s", "sort: stuck first, id, range, attempts"), ("v", "every store with all its figures"), ("T", "every table: files, kvs, bytes, checksum"), ("e", "the whole event history, searchable"), ("t", "next theme"), ("?", "this help"), ("q", "quit (asks first)")]),
        ]
        if drills {
            groups.append(("Drills", [("d / u", "take the selected leader's store down / every store up"), ("L", "move the selected region's leader"), ("S", "split the selected region"), ("B", "make the leader's store busy for 3 s")]))
        }
        return groups
    }

    public func render(into b: inout ScreenBuffer) {
        let groups = Self.groups(drills: drills)
        let lines = groups.reduce(0) { $0 + $1.1.count + 2 } + 1
        let w = min(b.width - 4, 72), h = min(b.height - 2, lines + 2)
        let rect = Rect(x: (b.width - w) / 2, y: max(1, (b.height - h) / 2), width: w, height: h)
        b.fill(rect)
        b.box(rect, title: "Help  (any key closes)", style: unicode ? .unicode : .ascii)
        var y = rect.y + 1
        for (title, keys) in groups {
            guard y < rect.maxY - 1 else { break }
            b.write(title, x: rect.x + 2, y: y, role: .title)
            y += 1
            for (key, action) in keys where y < rect.maxY - 1 {
                b.write(fit(key, 14), x: rect.x + 4, y: y, role: .key)
                b.write(fit(action, rect.width - 20), x: rect.x + 18, y: y)
                y += 1
            }
            y += 1
        }
    }
}
