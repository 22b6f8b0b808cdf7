/// What a cell means, not what colour it has: a theme maps each role to colours and attributes.
public enum ColorRole: UInt8, CaseIterable, Sendable {
    case normal
    case header
    case border
    case title
    case selected
    case dim
    case info
    case accent
    case ok
    case warn
    case error
    case paused
    case graph
    case key
}
