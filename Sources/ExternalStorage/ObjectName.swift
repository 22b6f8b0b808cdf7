import KeyCodec

/// Checks names that come from a backup or a user before they touch a path or a URL.
public enum ObjectName {
    /// A relative name of `/`-separated parts, none empty, `.` or `..`, with no NUL or backslash.
    public static func validate(_ name: String) throws(StorageError) {
        guard !name.isEmpty, !name.hasPrefix("/"), !name.contains("\0"), !name.contains("\\") else {
            throw .unsafeObjectName(name)
        }
        for part in name.split(separator: "/", omittingEmptySubsequences: false) {
            if part.isEmpty || part == "." || part == ".." { throw .unsafeObjectName(name) }
        }
    }
}
