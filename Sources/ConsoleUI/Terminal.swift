import CNCursesW
import Foundation

/// The one place that talks to ncurses, from one thread: it starts and restores the terminal,
/// reads keys with a timeout, and writes the cells of a `ScreenBuffer` that changed since the last
/// frame, mapping colour roles through the theme to colour pairs.
public final class Terminal {
    public private(set) var width = 0
    public private(set) var height = 0
    public let depth: ColorDepth
    public let unicode: Bool
    private var theme: Theme
    private var pairs: [Int: Int16] = [:]  // (fg+1)<<16 | (bg+1) -> pair number
    private var previous: ScreenBuffer?
    private var started = false

    /// Starts curses. Call `stop()` on every exit path.
    public init(theme: Theme, environment: [String: String] = ProcessInfo.processInfo.environment) {
        setlocale(LC_ALL, "")
        initscr()
        started = true
        cbreak()
        noecho()
        nonl()
        keypad(cnc_stdscr(), true)
        curs_set(0)
        wtimeout(cnc_stdscr(), 100)
        set_escdelay(25)
        mousemask(cnc_all_mouse_events(), nil)
        var colors = 0
        if has_colors() {
            start_color()
            use_default_colors()
            colors = Int(cnc_colors())
        }
        depth = ColorDepth.detect(environment: environment, terminalColors: colors, canChangeColor: can_change_color())
        let codeset = String(cString: nl_langinfo(nl_item(CODESET)))
        unicode = codeset.uppercased().replacingOccurrences(of: "-", with: "") == "UTF8"
        self.theme = depth == .monochrome ? .monochrome : theme
        updateSize()
    }

    deinit { stop() }

    /// Restores the terminal. Safe to call more than once.
    public func stop() {
        guard started else { return }
        started = false
        endwin()
    }

    public func setTheme(_ newTheme: Theme) {
        theme = depth == .monochrome ? .monochrome : newTheme
        previous = nil  // every cell's colour may change
    }

    public var themeName: String { theme.name }

    private func updateSize() {
        var y: Int32 = 0, x: Int32 = 0
        cnc_getmaxyx(cnc_stdscr(), &y, &x)
        height = Int(y)
        width = Int(x)
    }

    /// The next input, or nil when `wtimeout` passed without one.
    public func readKey() -> KeyEvent? {
        var ch: wint_t = 0
        let kind = wget_wch(cnc_stdscr(), &ch)
        if kind == ERR { return nil }
        let code = Int32(ch)
        if kind == cnc_key_code_yes() {
            switch code {
            case KEY_UP: return .up
            case KEY_DOWN: return .down
            case KEY_LEFT: return .left
            case KEY_RIGHT: return .right
            case KEY_PPAGE: return .pageUp
            case KEY_NPAGE: return .pageDown
            case KEY_HOME: return .home
            case KEY_END: return .end
            case KEY_ENTER: return .enter
            case KEY_BACKSPACE: return .backspace
            case cnc_key_resize():
                updateSize()
                previous = nil
                return .resize
            case cnc_key_mouse():
                var event = MEVENT()
                guard getmouse(&event) == OK else { return nil }
                if event.bstate & cnc_wheel_up() != 0 { return .wheelUp }
                if cnc_wheel_down() != 0, event.bstate & cnc_wheel_down() != 0 { return .wheelDown }
                if event.bstate & cnc_button1_clicked() != 0 { return .mouseClick(x: Int(event.x), y: Int(event.y)) }
                return nil
            default: return nil
            }
        }
        switch code {
        case 10, 13: return .enter
        case 27: return .escape
        case 9: return .tab
        case 8, 127: return .backspace
        default:
            guard let scalar = Unicode.Scalar(UInt32(code)) else { return nil }
            return .character(Character(scalar))
        }
    }

    /// Writes what changed since the last frame, then refreshes.
    public func draw(_ buffer: ScreenBuffer) {
        if previous == nil { werase(cnc_stdscr()) }
        let old = previous
        for y in 0..<min(buffer.height, height) {
            var x = 0
            while x < min(buffer.width, width) {
                let cell = buffer[x, y]
                if let old, old.width == buffer.width, old.height == buffer.height, old[x, y] == cell {
                    x += 1
                    continue
                }
                // A run of changed cells with one style goes out in one call.
                var run = ""
                let start = x
                while x < min(buffer.width, width) {
                    let c = buffer[x, y]
                    if c.role != cell.role || c.bold != cell.bold { break }
                    if let old, old.width == buffer.width, old.height == buffer.height, old[x, y] == c, x > start { break }
                    if !c.isContinuation { run.append(c.character) }
                    x += 1
                }
                setStyle(cell.role, bold: cell.bold)
                wmove(cnc_stdscr(), Int32(y), Int32(start))
                // The bottom-right cell cannot be written without scrolling; curses reports ERR there.
                _ = waddstr(cnc_stdscr(), run)
            }
        }
        wrefresh(cnc_stdscr())
        previous = buffer
    }

    private func setStyle(_ role: ColorRole, bold extraBold: Bool) {
        let style = theme[role]
        var attrs = cnc_a_normal()
        if style.bold || extraBold { attrs |= cnc_a_bold() }
        if style.reverse { attrs |= cnc_a_reverse() }
        if style.underline { attrs |= cnc_a_underline() }
        var pair: Int16 = 0
        if depth != .monochrome {
            let fg = depth.index(of: style.fg), bg = depth.index(of: style.bg)
            if fg >= 0 || bg >= 0 { pair = colorPair(fg: fg, bg: bg) }
        }
        wattr_set(cnc_stdscr(), attrs, pair, nil)
    }

    private func colorPair(fg: Int, bg: Int) -> Int16 {
        let key = (fg + 1) << 16 | (bg + 1)
        if let pair = pairs[key] { return pair }
        let next = Int16(pairs.count + 1)
        guard Int32(next) < cnc_color_pairs() else { return 0 }
        init_pair(next, Int16(fg), Int16(bg))
        pairs[key] = next
        return next
    }
}
