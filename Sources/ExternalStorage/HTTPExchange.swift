import KeyCodec

/// One small HTTP/1.1 request answered in memory, for JSON APIs such as PD's (`/pd/api/v1/...`),
/// whose answers are a few kilobytes. TLS as `TransferSettings` says, with a client certificate
/// when the server requires one.
public enum HTTPExchange {
    public enum Method: String, Sendable {
        case get = "GET"
        case post = "POST"
    }

    public struct Reply: Sendable {
        public let status: Int
        public let body: [UInt8]

        public var isSuccess: Bool { (200..<300).contains(status) }
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// The request never got an answer: the connection, TLS or the deadline.
    public struct Failure: Error, CustomStringConvertible {
        public let method: Method
        public let url: String
        public let reason: String
        public var description: String { "\(method.rawValue) \(url): \(reason)" }
    }

    /// Answers of more than this are cut: no JSON answer of PD's comes near it.
    static let maxBody = 16 << 20

    public static func send(
        _ method: Method, _ url: String, json body: [UInt8]? = nil, settings: TransferSettings, timeoutSeconds: Int = 10
    ) async throws(Failure) -> Reply {
        try await BlockingIO.run { () throws(Failure) -> Reply in
            let request = CurlRequest(url: url, method: method == .get ? .get : .post, settings: settings)
            request.useHTTP1()
            request.setTimeout(seconds: timeoutSeconds)
            if let body { request.setBody(body, contentType: "application/json") }
            var received: [UInt8] = []
            request.onBody = { (chunk: UnsafeRawBufferPointer) throws(StorageError) in
                received.append(contentsOf: chunk.prefix(max(0, maxBody - received.count)))
            }
            switch request.perform() {
            case let .success(response):
                return Reply(status: response.status, body: (200..<300).contains(response.status) ? received : request.errorBody)
            case let .failure(.curl(_, message)):
                throw Failure(method: method, url: url, reason: message)
            case let .failure(failure):
                throw Failure(method: method, url: url, reason: "\(failure)")
            }
        }
    }
}
