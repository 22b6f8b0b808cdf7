import Foundation
#if canImport(FoundationXML)
import FoundationXML
import KeyCodec
#endif

/// A backup in an S3 bucket (AWS or any S3-compatible server), through libcurl with SigV4.
public struct S3Storage: HTTPBackedStorage {
    public let location: S3Location
    /// Kept to pass on to a store that fetches the backup itself (kvproto's StorageBackend).
    public let credentials: S3Credentials?
    let client: HTTPObjectClient

    public init(location: S3Location, credentials: S3Credentials?, settings: TransferSettings = TransferSettings()) {
        self.location = location
        self.credentials = credentials
        let region = location.region
        var sign: (@Sendable (CurlRequest) -> Void)?
        if let credentials {
            sign = { request in request.signAWS(region: region, credentials: credentials) }
        }
        client = HTTPObjectClient(storageName: location.description, settings: settings, sign: sign)
    }

    public var displayName: String { location.description }

    /// The object's key in the bucket: the prefix, then the name.
    func key(_ name: String) throws(StorageError) -> String {
        try ObjectName.validate(name)
        return location.prefix.isEmpty ? name : location.prefix + "/" + name
    }

    func bucketURL() -> String {
        guard !location.forcePathStyle, let schemeEnd = location.endpoint.range(of: "://") else {
            return location.endpoint + "/" + location.bucket
        }
        // Virtual-hosted style: https://bucket.host
        return location.endpoint[..<schemeEnd.upperBound] + location.bucket + "." + location.endpoint[schemeEnd.upperBound...]
    }

    func url(_ name: String) throws(StorageError) -> String {
        bucketURL() + "/" + percentEncodedPath(try key(name))
    }

    /// Creates the bucket; an existing bucket of ours is fine.
    public func createBucket() throws(StorageError) {
        do {
            try client.put(url: bucketURL(), object: "bucket \(location.bucket)", body: [])
        } catch {
            if case .httpStatus(_, _, 409) = error { return }  // BucketAlreadyOwnedByYou
            throw error
        }
    }

    /// ListObjectsV2, following continuation tokens.
    public func list(prefix: String) throws(StorageError) -> [String] {
        let root = location.prefix.isEmpty ? "" : location.prefix + "/"
        var names: [String] = []
        var token: String?
        repeat {
            var query = "list-type=2&prefix=" + Self.queryEncode(root + prefix)
            if let token { query += "&continuation-token=" + Self.queryEncode(token) }
            let body = try client.read(url: bucketURL() + "?" + query, object: "listing of \(prefix.isEmpty ? "/" : prefix)")
            let page = ListBucketResult(xml: body)
            names += page.keys.map { String($0.dropFirst(root.count)) }
            token = page.nextToken
        } while token != nil
        return names.sorted()
    }

    public func write(_ name: String, contents: [UInt8]) throws(StorageError) {
        try client.put(url: url(name), object: name, body: contents)
    }

    public func write(_ name: String, fromFile path: String) throws(StorageError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .localIO(path: path, reason: "cannot read file to upload")
        }
        try write(name, contents: [UInt8](data))
    }

    static func queryEncode(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
}

/// The keys and continuation token of a ListObjectsV2 answer.
final class ListBucketResult: NSObject, XMLParserDelegate {
    private(set) var keys: [String] = []
    private(set) var nextToken: String?
    private var text = ""

    init(xml: [UInt8]) {
        super.init()
        let parser = XMLParser(data: Data(xml))
        parser.delegate = self
        _ = parser.parse()
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        text = ""
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        switch name {
        case "Key": keys.append(text)
        case "NextContinuationToken": nextToken = text.isEmpty ? nil : text
        default: break
        }
    }
}
