import KeyCodec

/// What the operator has chosen on screen: selection, scrolling, sort, filter, overlays, theme.
public struct ConsoleState: Sendable, Equatable {
    public enum Sort: String, CaseIterable, Sendable {
        case stuckFirst = "stuck first"
        case id = "id"
        case range = "range"
        case attempts = "attempts"
    }

    public enum Overlay: Equatable, Sendable {
        case none
        case help
        case stores
        case tables
        case history
        case detail(regionID: UInt64)
        case confirmQuit
        case filterInput
    }

    public var selectedRegion: UInt64?
    /// The selected region's index in the snapshot's rows (a row keeps its index).
    public var selectedRowIndex: Int?
    public var selectedIndex = 0
    /// True once the operator moved the selection: it then follows its region through re-sorts.
    public var selectionPinned = false
    public var scroll = 0
    public var sort = Sort.stuckFirst
    public var filter = ""
    public var overlay = Overlay.none
    public var themeName = "default"
    public var drills = false
    /// A short message in the footer ("rate limit 8 MiB/s per store").
    public var message: String?
    public var quitting = false
    public var finished = false
    /// The event history's search, whether it is being typed, and how many events up from the
    /// newest it is scrolled.
    public var historySearch = ""
    public var historyEditing = false
    public var historyScroll = 0
    /// What the regions wait for, as of the last sort.
    public var waits: [WaitSummary.Entry] = []

    public init() {}
}
