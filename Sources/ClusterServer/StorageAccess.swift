import Foundation
import ExternalStorage
import KVProto

/// What a client of `cluster serve` may make its stores read. A Download names its storage itself,
/// and any client may send one, so the server fetches only from what its operator allowed: local
/// paths under `localRoots` (none by default: local storage is refused) and S3 endpoints in
/// `endpoints` (an S3 backend with no endpoint, which is AWS's own, is always allowed). A refusal
/// says the same whether or not the object exists, so a client learns nothing of the server's
/// disks outside the roots.
public struct StorageAccess: Sendable, Equatable {
    /// Directories a local backend may read under, as real paths (symlinks resolved).
    public let localRoots: [String]
    /// S3 endpoints a backend may name, as `scheme://host[:port]`, lowercased.
    public let endpoints: [String]
    /// Directories never read, even under a root: the cluster's own (its stores' data and imports).
    private var excluded: [String] = []

    public init(localRoots: [String], endpoints: [String]) {
        self.localRoots = localRoots.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().standardizedFileURL.path }
        self.endpoints = endpoints.compactMap(Self.normalized)
    }

    /// The same access, with `directory` and everything under it refused.
    func excluding(_ directory: String) -> StorageAccess {
        var access = self
        access.excluded.append(URL(fileURLWithPath: directory).resolvingSymlinksInPath().standardizedFileURL.path)
        return access
    }

    /// Refuses a backend, or an object in it, that lies outside what this server serves.
    public func check(_ backend: Backup_StorageBackend, object name: String) throws(StorageError) {
        switch backend.backend {
        case let .local(local)?:
            try checkLocal(root: local.path, object: name)
        case let .s3(s3)?:
            if s3.endpoint.isEmpty { return }
            guard let endpoint = Self.normalized(s3.endpoint), endpoints.contains(endpoint) else {
                throw .invalidURL("s3://\(s3.bucket)", reason: "endpoint \(Self.normalized(s3.endpoint) ?? "(unparsable)") is not allowed here (cluster serve --allow-endpoint)")
            }
        default:
            return  // WireStorage.open refuses the rest
        }
    }

    private func checkLocal(root: String, object name: String) throws(StorageError) {
        let refused = StorageError.invalidURL("local://\(root)", reason: "not under a storage root of this server (cluster serve --storage-root)")
        guard root.hasPrefix("/") else { throw .invalidURL(root, reason: "a local backend needs an absolute path") }
        try ObjectName.validate(name)
        let lexical = URL(fileURLWithPath: root + "/" + name).standardizedFileURL.path
        guard isUnderRoot(lexical) else { throw refused }
        // A symlink under a root may point out of it: what is read is the resolved path.
        if let real = realpath(lexical, nil) {
            defer { free(real) }
            guard isUnderRoot(String(cString: real)) else { throw refused }
        }
    }

    private func isUnderRoot(_ path: String) -> Bool {
        localRoots.contains { Self.path(path, isUnder: $0) } && !excluded.contains { Self.path(path, isUnder: $0) }
    }

    private static func path(_ path: String, isUnder directory: String) -> Bool {
        directory == "/" || path == directory || path.hasPrefix(directory + "/")
    }

    /// `scheme://host[:port]` of an endpoint URL, lowercased, the scheme's default port dropped.
    public static func normalized(_ endpoint: String) -> String? {
        guard let url = URL(string: endpoint.contains("://") ? endpoint : "https://\(endpoint)"),
              let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), let host = url.host?.lowercased(), !host.isEmpty
        else { return nil }
        let port = url.port.flatMap { (scheme == "https" && $0 == 443) || (scheme == "http" && $0 == 80) ? nil : $0 }
        return "\(scheme)://\(host)" + (port.map { ":\($0)" } ?? "")
    }
}
