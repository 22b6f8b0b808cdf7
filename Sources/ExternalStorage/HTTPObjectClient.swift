import CCurl
import Foundation
import KeyCodec

/// Object reads and writes over HTTP(S), shared by the plain HTTP and S3 backends: size by HEAD,
/// whole reads, streamed downloads that resume with a Range request after a dropped connection,
/// and PUTs. Statuses and curl errors become `StorageError`s that name the object.
struct HTTPObjectClient: Sendable {
    let storageName: String
    let settings: TransferSettings
    /// Adds authentication to a request (S3 signs it); nil for plain HTTP.
    let sign: (@Sendable (CurlRequest) -> Void)?

    func request(_ url: String, _ method: CurlRequest.Method, body: [UInt8]? = nil) -> CurlRequest {
        let request = CurlRequest(url: url, method: method, settings: settings)
        if let body { request.setBody(body) }
        sign?(request)  // after the body: the signature covers its hash
        return request
    }

    func size(url: String, object: String) throws(StorageError) -> UInt64 {
        let response = try check(request(url, .head), object: object)
        guard let length = response.contentLength else {
            throw .transfer(object: object, storage: storageName, reason: "no Content-Length in the answer to HEAD")
        }
        return length
    }

    func read(url: String, object: String) throws(StorageError) -> [UInt8] {
        let r = request(url, .get)
        var body: [UInt8] = []
        r.onBody = { (chunk: UnsafeRawBufferPointer) throws(StorageError) in body.append(contentsOf: chunk) }
        _ = try check(r, object: object)
        return body
    }

    func put(url: String, object: String, body: [UInt8]) throws(StorageError) {
        _ = try check(request(url, .put, body: body), object: object)
    }

    /// Streams an object into `path`, resuming after dropped connections, and verifies it.
    func download(
        url: String, object: String, to path: String, expected: ExpectedContent?, limiter: RateLimiter?,
        progress: (@Sendable (UInt64) -> Void)?
    ) throws(StorageError) {
        _ = try transfer(url: url, object: object, limiter: limiter, progress: progress) { () throws(StorageError) in
            try VerifyingSink(path: path, object: object, expected: expected)
        }
    }

    /// A small object into memory, as `download` takes it into a file.
    func fetch(
        url: String, object: String, expected: ExpectedContent, limiter: RateLimiter?, progress: (@Sendable (UInt64) -> Void)?
    ) throws(StorageError) -> [UInt8] {
        try transfer(url: url, object: object, limiter: limiter, progress: progress) { VerifyingSink(inMemory: object, expected: expected) }.bytes
    }

    /// A GET into a fresh sink from `makeSink`, resumed with a Range request after a dropped
    /// connection (from the first byte, in a new sink, where the server cannot resume).
    private func transfer(
        url: String, object: String, limiter: RateLimiter?, progress: (@Sendable (UInt64) -> Void)?,
        sink makeSink: () throws(StorageError) -> VerifyingSink
    ) throws(StorageError) -> VerifyingSink {
        var sink = try makeSink()
        var resumes = 0
        var backoff = settings.initialBackoffSeconds
        while true {
            let r = request(url, .get)
            let offset = sink.written
            if offset > 0 {
                r.addHeader("Range: bytes=\(offset)-")
                r.requiresPartialContent = true
            }
            let current = sink
            r.onBody = { (chunk: UnsafeRawBufferPointer) throws(StorageError) in
                try current.appendPaced(chunk, limiter: limiter, progress: progress)
            }
            switch r.perform() {
            case let .success(response) where (200..<300).contains(response.status):
                try sink.finish()
                return sink
            case let .success(response):
                sink.abandon()
                throw statusError(response.status, object: object, body: r.errorBody)
            case let .failure(.sink(error)):
                sink.abandon()
                throw error
            case .failure(.rangeIgnored):
                // The server cannot resume: start again from the first byte.
                sink.abandon()
                sink = try makeSink()
            case let .failure(.curl(code, message)):
                if CurlRequest.isTLSFailure(code) || (CurlRequest.isUnreachable(code) && sink.written == 0) || resumes >= settings.resumeAttempts {
                    sink.abandon()
                    throw curlError(code, message: message, object: object, resumed: resumes)
                }
            }
            resumes += 1
            Thread.sleep(forTimeInterval: backoff * Double.random(in: 0.5...1.0))
            backoff = min(backoff * 2, settings.maxBackoffSeconds)
        }
    }

    /// Runs a request whose body was set up by the caller and maps failures.
    private func check(_ r: CurlRequest, object: String) throws(StorageError) -> CurlRequest.Response {
        switch r.perform() {
        case let .success(response):
            guard (200..<300).contains(response.status) else { throw statusError(response.status, object: object, body: r.errorBody) }
            return response
        case let .failure(.sink(error)):
            throw error
        case .failure(.rangeIgnored):
            throw .transfer(object: object, storage: storageName, reason: "unexpected full response")
        case let .failure(.curl(code, message)):
            throw curlError(code, message: message, object: object, resumed: 0)
        }
    }

    func statusError(_ status: Int, object: String, body: [UInt8]) -> StorageError {
        switch status {
        case 404: return .notFound(object: object, storage: storageName)
        case 401, 403: return .accessDenied(object: object, storage: storageName, status: status)
        default: return .httpStatus(object: object, storage: storageName, status: status)
        }
    }

    func curlError(_ code: CURLcode, message: String, object: String, resumed: Int) -> StorageError {
        if CurlRequest.isTLSFailure(code) { return .tlsVerification(storage: storageName, reason: message) }
        if CurlRequest.isUnreachable(code) { return .unreachable(storage: storageName, reason: message) }
        let suffix = resumed > 0 ? " (after \(resumed) resumes)" : ""
        return .transfer(object: object, storage: storageName, reason: message + suffix)
    }
}

/// A storage whose objects are URLs read through an `HTTPObjectClient` (plain HTTP and S3).
protocol HTTPBackedStorage: ExternalStorage {
    var client: HTTPObjectClient { get }
    /// The URL of an object, after checking its name.
    func url(_ name: String) throws(StorageError) -> String
}

extension HTTPBackedStorage {
    public func size(of name: String) throws(StorageError) -> UInt64 {
        try client.size(url: url(name), object: name)
    }

    public func read(_ name: String) throws(StorageError) -> [UInt8] {
        try client.read(url: url(name), object: name)
    }

    public func download(
        _ name: String, to path: String, expected: ExpectedContent?, limiter: RateLimiter?,
        progress: (@Sendable (UInt64) -> Void)?
    ) throws(StorageError) {
        try client.download(url: url(name), object: name, to: path, expected: expected, limiter: limiter, progress: progress)
    }

    public func fetch(
        _ name: String, expected: ExpectedContent, limiter: RateLimiter?, progress: (@Sendable (UInt64) -> Void)?
    ) throws(StorageError) -> [UInt8] {
        try client.fetch(url: url(name), object: name, expected: expected, limiter: limiter, progress: progress)
    }
}

/// Percent-encodes each `/`-separated part of an object name for a URL path.
func percentEncodedPath(_ name: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return name.split(separator: "/", omittingEmptySubsequences: false)
        .map { String($0).addingPercentEncoding(withAllowedCharacters: allowed) ?? String($0) }
        .joined(separator: "/")
}
