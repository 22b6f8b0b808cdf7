import CCurl
import Foundation
import KeyCodec

/// One HTTP request through libcurl's easy interface. It streams the body to a closure, so that
/// downloads go to disk without being held in memory. Not shared between threads.
final class CurlRequest {
    enum Method: Sendable {
        case get, head, put, post
    }

    struct Response {
        var status: Int
        /// Content-Length of a HEAD or GET, when the server sent one.
        var contentLength: UInt64?
    }

    /// What went wrong below HTTP: the connection, TLS, or the body sink.
    enum Failure: Error {
        case curl(code: CURLcode, message: String)
        case sink(StorageError)
        /// A Range request got a whole body (200) back.
        case rangeIgnored
    }

    private static let globalInit: Bool = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK }()

    private let handle: UnsafeMutableRawPointer
    private var headers: UnsafeMutablePointer<curl_slist>?
    /// curl writes its detailed message here; it must stay at one address for the handle's life.
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    /// Receives each chunk of the body; a thrown error stops the transfer.
    var onBody: ((UnsafeRawBufferPointer) throws(StorageError) -> Void)?
    private var sinkError: StorageError?
    /// Bytes of the body received before a non-2xx status are kept here for the error message.
    private(set) var errorBody: [UInt8] = []
    private var status: Int = 0

    init(url: String, method: Method, settings: TransferSettings) {
        _ = Self.globalInit
        handle = curl_easy_init()
        ccurl_setopt_string(handle, CURLOPT_URL, url)
        ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, settings.connectTimeoutSeconds)
        ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, settings.lowSpeedBytesPerSecond)
        ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, settings.lowSpeedSeconds)
        ccurl_setopt_long(handle, CURLOPT_BUFFERSIZE, 512 * 1024)
        ccurl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        ccurl_setopt_long(handle, CURLOPT_PROTOCOLS, Int(CURLPROTO_HTTP | CURLPROTO_HTTPS))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        ccurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        if let ca = settings.caFile { ccurl_setopt_string(handle, CURLOPT_CAINFO, ca) }
        if let identity = settings.clientIdentity {
            ccurl_setopt_string(handle, CURLOPT_SSLCERT, identity.certificatePath)
            ccurl_setopt_string(handle, CURLOPT_SSLKEY, identity.keyPath)
        }
        if settings.insecureSkipTLSVerify {
            ccurl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 0)
            ccurl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 0)
        }
        switch method {
        case .get: break
        case .head: ccurl_setopt_long(handle, CURLOPT_NOBODY, 1)
        case .put: ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, "PUT")
        case .post: ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, "POST")
        }
    }

    deinit {
        curl_easy_cleanup(handle)
        curl_slist_free_all(headers)
        errorBuffer.deallocate()
    }

    /// HTTP/1.1 only: a server that serves gRPC and HTTP on one port (PD) routes HTTP/2 to gRPC.
    func useHTTP1() {
        ccurl_setopt_long(handle, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1))
    }

    /// The whole transfer's deadline.
    func setTimeout(seconds: Int) {
        ccurl_setopt_long(handle, CURLOPT_TIMEOUT, seconds)
    }

    func addHeader(_ line: String) {
        headers = curl_slist_append(headers, line)
    }

    /// sha256 of the request body, for S3's x-amz-content-sha256.
    private(set) var bodySHA256 = SHA256Digest.hash([]).hexString

    /// Signs the request with AWS Signature V4 (curl computes it over the headers, including the
    /// payload hash that S3 requires).
    func signAWS(region: String, credentials: S3Credentials) {
        addHeader("x-amz-content-sha256: \(bodySHA256)")
        ccurl_setopt_string(handle, CURLOPT_AWS_SIGV4, "aws:amz:\(region):s3")
        ccurl_setopt_string(handle, CURLOPT_USERNAME, credentials.accessKey)
        ccurl_setopt_string(handle, CURLOPT_PASSWORD, credentials.secretKey)
        if let token = credentials.sessionToken { addHeader("x-amz-security-token: \(token)") }
    }

    /// Sends `body` as the request body of a PUT or POST (curl copies it, and signs it when asked to).
    func setBody(_ body: [UInt8], contentType: String = "application/octet-stream") {
        bodySHA256 = SHA256Digest.hash(body).hexString
        // Without a type curl says form-urlencoded, and some servers then parse the body as a form.
        addHeader("Content-Type: \(contentType)")
        ccurl_setopt_offset(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
        body.withUnsafeBytes { _ = ccurl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!)) }
    }

    /// With a Range request, a 200 instead of 206 means the server ignored it; the body would
    /// then repeat what was already written, so the transfer stops.
    var requiresPartialContent = false
    private var rangeIgnored = false

    func perform() -> Result<Response, Failure> {
        if let headers { ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, headers) }
        let context = Unmanaged.passUnretained(self).toOpaque()
        ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, context)
        ccurl_setopt_write_function(handle) { data, size, count, context in
            let request = Unmanaged<CurlRequest>.fromOpaque(context!).takeUnretainedValue()
            return request.receive(UnsafeRawBufferPointer(start: data, count: size * count))
        }
        let code = curl_easy_perform(handle)
        if let sinkError { return .failure(.sink(sinkError)) }
        if rangeIgnored { return .failure(.rangeIgnored) }
        var status = 0
        ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        guard code == CURLE_OK else {
            let detail = String(cString: errorBuffer)
            let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            return .failure(.curl(code: code, message: message))
        }
        var length: curl_off_t = -1
        ccurl_getinfo_offset(handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length)
        return .success(Response(status: status, contentLength: length >= 0 ? UInt64(length) : nil))
    }

    /// The write callback: bodies of successful responses go to `onBody`; error bodies are kept.
    private func receive(_ chunk: UnsafeRawBufferPointer) -> Int {
        if status == 0 { ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status) }
        if requiresPartialContent, status == 200 {
            rangeIgnored = true
            return 0
        }
        guard (200..<300).contains(status) else {
            if errorBody.count < 4096 { errorBody.append(contentsOf: chunk.prefix(4096 - errorBody.count)) }
            return chunk.count
        }
        do {
            try onBody?(chunk)
            return chunk.count
        } catch {
            sinkError = error
            return 0  // makes curl stop with CURLE_WRITE_ERROR
        }
    }

    static func isTLSFailure(_ code: CURLcode) -> Bool {
        code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CONNECT_ERROR || code == CURLE_SSL_CACERT_BADFILE
    }

    static func isUnreachable(_ code: CURLcode) -> Bool {
        code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST
    }
}
