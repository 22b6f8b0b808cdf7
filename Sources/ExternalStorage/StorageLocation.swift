import Foundation
import KeyCodec

/// Where a backup lives, parsed from a URL: `local:///abs/path` or a plain path, `http(s)://...`,
/// or `s3://bucket/prefix?endpoint=...&region=...&force-path-style=true`.
public enum StorageLocation: Sendable, Equatable, CustomStringConvertible {
    case local(path: String)
    case http(baseURL: String)
    case s3(S3Location)

    public static func parse(_ text: String) throws(StorageError) -> StorageLocation {
        guard !text.isEmpty else { throw .invalidURL(StorageLocation.redacted(text), reason: "empty") }
        guard let schemeEnd = text.range(of: "://") else {
            if text.contains(":") && !text.hasPrefix("/") && !text.hasPrefix(".") {
                throw .invalidURL(StorageLocation.redacted(text), reason: "unknown scheme: use local://, http://, https:// or s3://")
            }
            return .local(path: (text as NSString).standardizingPath)
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        let rest = String(text[schemeEnd.upperBound...])
        switch scheme {
        case "local", "file":
            guard rest.hasPrefix("/") else { throw .invalidURL(StorageLocation.redacted(text), reason: "a local URL needs an absolute path: local:///abs/path") }
            return .local(path: (rest as NSString).standardizingPath)
        case "http", "https":
            guard let url = URLComponents(string: text), let host = url.host, !host.isEmpty else {
                throw .invalidURL(StorageLocation.redacted(text), reason: "no host")
            }
            if url.user != nil || url.password != nil {
                throw .invalidURL(redacted(text), reason: "credentials in the URL are not accepted; use a server without them or S3")
            }
            return .http(baseURL: text.hasSuffix("/") ? String(text.dropLast()) : text)
        case "s3":
            return .s3(try S3Location(parsing: text))
        default:
            throw .invalidURL(StorageLocation.redacted(text), reason: "unknown scheme '\(scheme)': use local://, http://, https:// or s3://")
        }
    }

    public var description: String {
        switch self {
        case let .local(path): "local://\(path)"
        case let .http(base): base
        case let .s3(location): location.description
        }
    }

    /// `text` with anything between `://` and `@` removed.
    static func redacted(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://"), let at = text[schemeEnd.upperBound...].firstIndex(of: "@") else { return text }
        return String(text[..<schemeEnd.upperBound]) + "***" + String(text[at...])
    }
}

/// An S3 bucket and prefix, with the endpoint to reach it. It holds no credentials.
public struct S3Location: Sendable, Equatable, CustomStringConvertible {
    public var bucket: String
    public var prefix: String
    public var endpoint: String
    public var region: String
    public var forcePathStyle: Bool

    public init(bucket: String, prefix: String, endpoint: String, region: String, forcePathStyle: Bool) {
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint = endpoint
        self.region = region
        self.forcePathStyle = forcePathStyle
    }

    init(parsing text: String) throws(StorageError) {
        guard let url = URLComponents(string: text) else { throw .invalidURL(StorageLocation.redacted(text), reason: "not a URL") }
        guard let bucket = url.host, !bucket.isEmpty else { throw .invalidURL(StorageLocation.redacted(text), reason: "missing bucket: s3://BUCKET/prefix") }
        var query: [String: String] = [:]
        for item in url.queryItems ?? [] { query[item.name.lowercased()] = item.value ?? "" }
        for secret in ["access-key", "secret-access-key", "access_key", "secret_access_key"] where query[secret] != nil {
            throw .invalidURL(StorageLocation.redacted(text).components(separatedBy: "?")[0],
                              reason: "credentials in the URL are not accepted; use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or --s3-access-key")
        }
        let prefix = url.path.split(separator: "/").joined(separator: "/")
        if !prefix.isEmpty { try ObjectName.validate(prefix) }
        let region = query["region"].flatMap { $0.isEmpty ? nil : $0 } ?? "us-east-1"
        let endpoint = query["endpoint"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://s3.\(region).amazonaws.com"
        guard endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://") else {
            throw .invalidURL(StorageLocation.redacted(text), reason: "endpoint must be an http:// or https:// URL")
        }
        let style = query["force-path-style"] ?? query["force_path_style"] ?? "true"
        self.init(
            bucket: bucket, prefix: prefix, endpoint: endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint,
            region: region, forcePathStyle: style != "false")
    }

    public var description: String {
        "s3://\(bucket)\(prefix.isEmpty ? "" : "/" + prefix) (\(endpoint))"
    }
}
