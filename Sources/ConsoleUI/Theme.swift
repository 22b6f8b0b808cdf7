import Foundation

/// A colour as a theme names it: the terminal's default, one of 256 palette entries, or 24-bit RGB.
public enum ThemeColor: Equatable, Sendable {
    case terminalDefault
    case palette(UInt8)
    case rgb(UInt8, UInt8, UInt8)

    /// Parses `default`, `#rrggbb`, a palette number, or an ANSI name (`red`, `bright-blue`, ...).
    public init?(_ text: String) {
        let names = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"]
        let t = text.lowercased()
        if t == "default" || t.isEmpty {
            self = .terminalDefault
        } else if t.hasPrefix("#"), t.count == 7, let v = UInt32(t.dropFirst(), radix: 16) {
            self = .rgb(UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF))
        } else if let n = UInt8(t) {
            self = .palette(n)
        } else if let i = names.firstIndex(of: t) {
            self = .palette(UInt8(i))
        } else if t.hasPrefix("bright-"), let i = names.firstIndex(of: String(t.dropFirst(7))) {
            self = .palette(UInt8(i + 8))
        } else {
            return nil
        }
    }
}

/// How one role looks.
public struct RoleStyle: Equatable, Sendable {
    public var fg: ThemeColor = .terminalDefault
    public var bg: ThemeColor = .terminalDefault
    public var bold = false
    public var reverse = false
    public var underline = false

    public init(fg: ThemeColor = .terminalDefault, bg: ThemeColor = .terminalDefault, bold: Bool = false, reverse: Bool = false, underline: Bool = false) {
        self.fg = fg
        self.bg = bg
        self.bold = bold
        self.reverse = reverse
        self.underline = underline
    }
}

/// A colour scheme: a style for every role. A theme file may set only some roles; the rest come
/// from the default theme, one by one, as btop's themes do.
public struct Theme: Equatable, Sendable {
    public var name: String
    public var styles: [ColorRole: RoleStyle]

    public subscript(role: ColorRole) -> RoleStyle { styles[role] ?? Theme.fallback.styles[role] ?? RoleStyle() }

    /// The built-in default (dark), also what every other theme falls back to.
    public static let fallback: Theme = {
        func c(_ s: String) -> ThemeColor { ThemeColor(s)! }
        return Theme(name: "default", styles: [
            .normal: RoleStyle(),
            .header: RoleStyle(fg: c("#e4e4e4"), bg: c("#005f87"), bold: true),
            .title: RoleStyle(fg: c("#5fafff"), bold: true),
            .border: RoleStyle(fg: c("#5f5f87")),
            .selected: RoleStyle(fg: c("#000000"), bg: c("#5fafd7")),
            .dim: RoleStyle(fg: c("#808080")),
            .label: RoleStyle(fg: c("#87afd7")),
            .key: RoleStyle(fg: c("#ffd75f"), bold: true),
            .info: RoleStyle(fg: c("#5fd7ff")),
            .accent: RoleStyle(fg: c("#d787ff")),
            .ok: RoleStyle(fg: c("#87d75f")),
            .warn: RoleStyle(fg: c("#ffaf00")),
            .error: RoleStyle(fg: c("#ff5f5f"), bold: true),
            .paused: RoleStyle(fg: c("#afafff")),
            .graph: RoleStyle(fg: c("#5fd7af")),
            .progress: RoleStyle(fg: c("#000000"), bg: c("#5fd75f")),
            .progressEmpty: RoleStyle(fg: c("#808080"), bg: c("#303030")),
            .leader: RoleStyle(bold: true, underline: true),
        ])
    }()

    /// Monochrome: attributes only, for NO_COLOR and terminals without colour.
    public static let monochrome = Theme(name: "mono", styles: Dictionary(uniqueKeysWithValues: ColorRole.allCases.map { role in
        switch role {
        case .header, .selected, .progress: (role, RoleStyle(reverse: true))
        case .title, .key, .error, .leader: (role, RoleStyle(bold: true))
        case .paused, .warn: (role, RoleStyle(underline: true))
        default: (role, RoleStyle())
        }
    }))

    /// Parses a theme file: `name = "..."` and one table per role with `fg`, `bg`, `bold`,
    /// `reverse`, `underline`. Unknown roles and bad colours are errors that name them.
    public static func parse(_ text: String, source: String) throws(ThemeError) -> Theme {
        let table: ThemeFile.Table
        do { table = try ThemeFile.parse(text) } catch { throw .syntax(source: source, reason: error.description) }
        var theme = Theme(name: table["name"]?.string ?? (source as NSString).lastPathComponent, styles: [:])
        for key in table.keys where key != "name" && key != "base" {
            guard let role = ColorRole(rawValue: key) else { throw .unknownRole(source: source, role: key) }
            guard let fields = table[key]?.table else { throw .syntax(source: source, reason: "\(key) must be a table") }
            var style = RoleStyle()
            for field in fields.keys {
                switch field {
                case "fg", "bg":
                    // A palette number may be written bare (bg = 236) or quoted.
                    guard let text = fields[field]?.string ?? fields[field]?.integer.map(String.init), let color = ThemeColor(text) else {
                        throw .badColor(source: source, role: key, value: "\(fields[field].map { "\($0)" } ?? "")")
                    }
                    if field == "fg" { style.fg = color } else { style.bg = color }
                case "bold": style.bold = fields[field]?.bool ?? false
                case "reverse": style.reverse = fields[field]?.bool ?? false
                case "underline": style.underline = fields[field]?.bool ?? false
                default: throw .syntax(source: source, reason: "\(key).\(field) is not fg, bg, bold, reverse or underline")
                }
            }
            theme.styles[role] = style
        }
        // `base = "none"`: roles left out are plain, instead of the default theme's colours.
        if table["base"]?.string == "none" {
            for role in ColorRole.allCases where theme.styles[role] == nil { theme.styles[role] = RoleStyle() }
        }
        return theme
    }

    /// Loads `nameOrPath`: a file path, or a name looked up in the theme directories.
    public static func load(_ nameOrPath: String, directories: [String] = Theme.directories()) throws(ThemeError) -> Theme {
        if nameOrPath == "mono" { return .monochrome }
        let candidates = nameOrPath.contains("/") || nameOrPath.hasSuffix(".toml")
            ? [nameOrPath] : directories.map { "\($0)/\(nameOrPath).toml" }
        for path in candidates {
            if let data = FileManager.default.contents(atPath: path) {
                return try parse(String(decoding: data, as: UTF8.self), source: path)
            }
        }
        if nameOrPath == "default" { return .fallback }
        throw .notFound(nameOrPath, searched: candidates)
    }

    /// Where themes live: $RESTORE_CONSOLE_THEMES, then Themes/ beside the binary's package checkout,
    /// then the system share directory.
    public static func directories() -> [String] {
        var dirs: [String] = []
        if let env = ProcessInfo.processInfo.environment["RESTORE_CONSOLE_THEMES"] { dirs.append(env) }
        var url = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            dirs.append(url.appendingPathComponent("Themes").path)
            url.deleteLastPathComponent()
        }
        dirs.append(FileManager.default.currentDirectoryPath + "/Themes")
        dirs.append("/usr/share/restore-console/themes")
        return dirs
    }

    /// The built-in theme names, in the order `t` cycles through them.
    public static let cycle = ["default", "light", "solarized-dark", "high-contrast", "mono"]
}

public enum ThemeError: Error, Equatable, Sendable, CustomStringConvertible {
    case notFound(String, searched: [String])
    case syntax(source: String, reason: String)
    case unknownRole(source: String, role: String)
    case badColor(source: String, role: String, value: String)

    public var description: String {
        switch self {
        case let .notFound(name, searched): "theme \(name) not found (looked in \(searched.joined(separator: ", ")))"
        case let .syntax(source, reason): "theme \(source): \(reason)"
        case let .unknownRole(source, role): "theme \(source): unknown role '\(role)' (see Docs/THEMES.md)"
        case let .badColor(source, role, value): "theme \(source): \(role) has colour \(value); use #rrggbb, 0-255, an ANSI name or default"
        }
    }
}
