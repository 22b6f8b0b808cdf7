/// What a cell means, not what colour it has: a theme maps each role to colours and attributes,
/// as htop's colour scheme elements do.
public enum ColorRole: String, CaseIterable, Sendable, Codable {
    case normal
    case header
    case title
    case border
    case selected
    case dim
    case label
    case key
    case info
    case accent
    case ok
    case warn
    case error
    case paused
    case graph
    case progress
    case progressEmpty
    case leader
}
