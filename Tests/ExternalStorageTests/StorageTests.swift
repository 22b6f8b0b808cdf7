import Foundation
import Synchronization
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ExternalStorage

@Suite struct StorageLocationTests {
    @Test func parsesEveryScheme() throws {
        #expect(try StorageLocation.parse("/tmp/backup/") == .local(path: "/tmp/backup"))
        #expect(try StorageLocation.parse("local:///var/bk") == .local(path: "/var/bk"))
        #expect(try StorageLocation.parse("http://127.0.0.1:8080/bk/") == .http(baseURL: "http://127.0.0.1:8080/bk"))
        let s3 = try StorageLocation.parse("s3://prod-bk/2026/11?endpoint=http://127.0.0.1:9000&region=eu-west-1&force-path-style=true")
        #expect(s3 == .s3(S3Location(bucket: "prod-bk", prefix: "2026/11", endpoint: "http://127.0.0.1:9000", region: "eu-west-1", forcePathStyle: true)))
        #expect(try StorageLocation.parse("s3://b") == .s3(S3Location(bucket: "b", prefix: "", endpoint: "https://s3.us-east-1.amazonaws.com", region: "us-east-1", forcePathStyle: true)))
    }

    @Test(arguments: [
        ("ftp://host/x", "unknown scheme"), ("gs:bucket", "unknown scheme"), ("s3:///prefix", "missing bucket"),
        ("local://relative", "absolute path"), ("http://", "no host"), ("", "empty"),
        ("s3://b/p?endpoint=ftp://x", "endpoint must be"), ("s3://b/../x", "escapes"),
    ])
    func badURLsFailAtOnceWithTheProblem(url: String, problem: String) {
        #expect {
            try StorageLocation.parse(url)
        } throws: { ($0 as? StorageError)?.description.contains(problem) == true }
    }

    @Test func credentialsInURLsAreRefusedWithoutBeingEchoed() {
        for url in ["s3://b/p?access-key=AKIDSECRET1&secret-access-key=TOPSECRET2", "https://user:TOPSECRET2@host/bk"] {
            #expect {
                try StorageLocation.parse(url)
            } throws: { error in
                let text = "\(error)"
                return text.contains("credentials") && !text.contains("TOPSECRET2") && !text.contains("AKIDSECRET1")
            }
        }
        #expect(!"\(S3Credentials(accessKey: "AKIDSECRET1", secretKey: "TOPSECRET2"))".contains("SECRET"))
    }

    /// A local listing: files in subdirectories by their relative names, sorted, a symlink to a
    /// file among them; directories, a symlink to a directory (never followed: it loops here) and
    /// a dangling symlink are not.
    @Test func aLocalListingNamesTheFilesBelowTheRoot() throws {
        let dir = try TemporaryDirectory()
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir.file("b/c"), withIntermediateDirectories: true)
        for name in ["z.sst", "a.sst", "b/c/deep.sst", "b/m.sst"] { try Data([1]).write(to: URL(fileURLWithPath: dir.file(name))) }
        try fm.createSymbolicLink(atPath: dir.file("link.sst"), withDestinationPath: dir.file("a.sst"))
        try fm.createSymbolicLink(atPath: dir.file("b/loop"), withDestinationPath: dir.file("b"))
        try fm.createSymbolicLink(atPath: dir.file("dangling.sst"), withDestinationPath: dir.file("nothing"))
        let storage = LocalStorage(root: dir.path)
        #expect(try storage.list(prefix: "") == ["a.sst", "b/c/deep.sst", "b/m.sst", "link.sst", "z.sst"])
        #expect(try storage.list(prefix: "b/") == ["b/c/deep.sst", "b/m.sst"])
        #expect(throws: StorageError.self) { try LocalStorage(root: dir.file("missing")).list(prefix: "") }
    }

    @Test func objectNamesThatEscapeAreRejected() {
        // A combining mark after a `/` makes one Character of them, never one byte.
        for name in ["../x", "/abs", "a/../../b", "a//b", "a/./b", "a\\b", "", "../\u{301}x", "a/\u{301}/../..", "a\0b"] {
            #expect(throws: StorageError.unsafeObjectName(name)) { try ObjectName.validate(name) }
        }
        for name in ["dir/1_2_3_write.sst", "..x/y..", "caf\u{E9}/\u{301}.sst", ".hidden"] {
            #expect(throws: Never.self) { try ObjectName.validate(name) }
        }
        #expect(throws: StorageError.self) { try LocalStorage(root: "/tmp").read("../etc/passwd") }
    }
}

@Suite struct StorageTransferTests {
    /// A directory with one file of `size` deterministic bytes named `data.bin`.
    func fixture(size: Int) throws -> (TemporaryDirectory, ExpectedContent) {
        let dir = try TemporaryDirectory()
        var random = SyntheticRandom(seed: 3)
        let bytes = (0..<size).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        try Data(bytes).write(to: URL(fileURLWithPath: dir.file("data.bin")))
        return (dir, ExpectedContent(size: UInt64(size), sha256: SHA256Digest.hash(bytes)))
    }

    /// The object downloads to a file and fetches into memory whole, and a wrong size or sha256
    /// fails the fetch naming the object.
    func expectDownload(_ storage: any ExternalStorage, _ expected: ExpectedContent, to dir: TemporaryDirectory) throws {
        let target = dir.file("out.temp")
        try storage.download("data.bin", to: target, expected: expected, limiter: nil, progress: nil)
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: target)))
        #expect(SHA256Digest.hash(data) == expected.sha256)
        try FileManager.default.removeItem(atPath: target)

        let seen = Mutex<UInt64>(0)
        let fetched = try storage.fetch("data.bin", expected: expected, limiter: nil) { n in seen.withLock { $0 = n } }
        #expect(fetched == data)
        #expect(seen.withLock { $0 } == expected.size)
        var wrongHash = expected
        wrongHash.sha256[0] ^= 1
        #expect { try storage.fetch("data.bin", expected: wrongHash, limiter: nil, progress: nil) } throws: {
            guard case .checksumMismatch(let object, _, _) = $0 as? StorageError else { return false }
            return object == "data.bin"
        }
        var wrongSize = expected
        wrongSize.size -= 10
        #expect { try storage.fetch("data.bin", expected: wrongSize, limiter: nil, progress: nil) } throws: {
            guard case .lengthMismatch(let object, let size, _) = $0 as? StorageError else { return false }
            return object == "data.bin" && size == wrongSize.size
        }
    }

    @Test func localDownloadsAreVerifiedAndBadOnesLeaveNothing() throws {
        let (dir, expected) = try fixture(size: 3 << 20)
        let storage = LocalStorage(root: dir.path)
        try expectDownload(storage, expected, to: dir)
        #expect(try storage.size(of: "data.bin") == 3 << 20)

        let target = dir.file("bad.temp")
        var wrongHash = expected
        wrongHash.sha256[0] ^= 1
        #expect { try storage.download("data.bin", to: target, expected: wrongHash, limiter: nil, progress: nil) } throws: {
            guard case .checksumMismatch(let object, _, _) = $0 as? StorageError else { return false }
            return object == "data.bin"
        }
        #expect(!FileManager.default.fileExists(atPath: target), "temp file removed")
        var wrongSize = expected
        wrongSize.size -= 10
        #expect(throws: StorageError.lengthMismatch(object: "data.bin", expected: wrongSize.size, actual: 3 << 20)) {
            try storage.download("data.bin", to: target, expected: wrongSize, limiter: nil, progress: nil)
        }
        #expect(!FileManager.default.fileExists(atPath: target))
        #expect(throws: StorageError.notFound(object: "nope.bin", storage: storage.displayName)) {
            try storage.download("nope.bin", to: target, expected: nil, limiter: nil, progress: nil)
        }
        #expect(!FileManager.default.fileExists(atPath: target), "nothing left for a missing object")
        #expect(throws: StorageError.self) { try storage.download("../escape.bin", to: target, expected: nil, limiter: nil, progress: nil) }
        #expect(!FileManager.default.fileExists(atPath: target), "nothing left for a refused name")
    }

    @Test func httpServesSizesReadsAndVerifiedDownloads() throws {
        let (dir, expected) = try fixture(size: 2 << 20)
        let server = try TestServer(script: "static_http.py", ["--root", dir.path])
        let storage = try StorageFactory.open("http://127.0.0.1:\(server.port)")
        #expect(try storage.size(of: "data.bin") == 2 << 20)
        #expect(try storage.read("data.bin").count == 2 << 20)
        try expectDownload(storage, expected, to: dir)
        #expect(throws: StorageError.notFound(object: "missing.sst", storage: storage.displayName)) { try storage.read("missing.sst") }
        #expect(throws: StorageError.accessDenied(object: "forbidden.sst", storage: storage.displayName, status: 403)) { try storage.read("forbidden.sst") }
        #expect(throws: StorageError.readOnly(storage: storage.displayName)) { try storage.write("x", contents: [1]) }
        #expect(throws: StorageError.listingUnsupported(storage: storage.displayName)) { try storage.list(prefix: "") }
    }

    @Test func aDroppedConnectionIsResumedWithARangeRequest() throws {
        let (dir, expected) = try fixture(size: 3 << 20)
        // Every response is cut after 1 MiB, so only Range requests can finish the file.
        let server = try TestServer(script: "static_http.py", ["--root", dir.path, "--drop-after", "\(1 << 20)"])
        var settings = TransferSettings()
        settings.initialBackoffSeconds = 0.01
        let storage = try StorageFactory.open("http://127.0.0.1:\(server.port)", settings: settings)
        let seen = Mutex<[UInt64]>([])
        let target = dir.file("resumed.temp")
        try storage.download("data.bin", to: target, expected: expected, limiter: nil) { n in seen.withLock { $0.append(n) } }
        #expect(SHA256Digest.hash(try [UInt8](Data(contentsOf: URL(fileURLWithPath: target)))) == expected.sha256)
        #expect(seen.withLock { $0.last } == 3 << 20)
        #expect(try storage.fetch("data.bin", expected: expected, limiter: nil, progress: nil).count == 3 << 20, "a fetch into memory resumes too")

        settings.resumeAttempts = 1
        let impatient = try StorageFactory.open("http://127.0.0.1:\(server.port)", settings: settings)
        #expect { try impatient.download("data.bin", to: target, expected: expected, limiter: nil, progress: nil) } throws: {
            guard case .transfer(let object, _, let reason) = $0 as? StorageError else { return false }
            return object == "data.bin" && reason.contains("after 1 resumes")
        }
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    @Test func aServerThatIsNotThereFailsFast() throws {
        let port: Int = {
            let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(s) }
            var addr = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: 0, sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, len) } }
            _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
            return Int(UInt16(bigEndian: addr.sin_port))
        }()
        let storage = try StorageFactory.open("http://127.0.0.1:\(port)")
        #expect { try storage.read("backupmeta") } throws: {
            guard case .unreachable = $0 as? StorageError else { return false }
            return true
        }
    }

    @Test func selfSignedHTTPSIsRefusedUnlessTrusted() throws {
        let (dir, expected) = try fixture(size: 100_000)
        let cert = dir.file("cert.pem"), key = dir.file("key.pem")
        let made = try runProgram("openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key, "-out", cert,
        ])
        #expect(made.status == 0, "\(made.stderr)")
        let server = try TestServer(script: "static_http.py", ["--root", dir.path, "--cert", cert, "--key", key])
        let url = "https://127.0.0.1:\(server.port)"

        #expect { try StorageFactory.open(url).read("data.bin") } throws: {
            guard case .tlsVerification = $0 as? StorageError else { return false }
            return "\($0)".contains("--storage.ca")
        }
        var trusted = TransferSettings()
        trusted.caFile = cert
        try expectDownload(try StorageFactory.open(url, settings: trusted), expected, to: dir)
        var insecure = TransferSettings()
        insecure.insecureSkipTLSVerify = true
        #expect(try StorageFactory.open(url, settings: insecure).read("data.bin").count == 100_000)
    }

    /// The limiter against its own clock: time passes only when it sleeps, so the rate it holds
    /// is exact, whatever else the machine is doing.
    @Test func theRateLimiterHoldsItsRate() throws {
        let clock = ManualClock()
        let limiter = RateLimiter(bytesPerSecond: 2 << 20, clock: clock.limiterClock)
        let (dir, expected) = try fixture(size: 6 << 20)
        try LocalStorage(root: dir.path).download("data.bin", to: dir.file("slow.temp"), expected: expected, limiter: limiter, progress: nil)
        let rate = Double(6 << 20) / clock.elapsedSeconds
        #expect(abs(rate - Double(2 << 20)) / Double(2 << 20) < 0.01, "held \(rate) B/s against 2 MiB/s")

        // A new rate applies to what follows.
        let before = clock.elapsedSeconds
        limiter.bytesPerSecond = 8 << 20
        for _ in 0..<64 { limiter.acquire(64 << 10) }
        #expect(abs((clock.elapsedSeconds - before) - 0.5) < 0.01, "4 MiB at 8 MiB/s")

        limiter.bytesPerSecond = 0
        let unlimited = clock.elapsedSeconds
        limiter.acquire(100 << 20)
        #expect(clock.elapsedSeconds == unlimited, "0 means unlimited: no wait at all")
    }
}

/// A clock that moves only when the code under test sleeps.
final class ManualClock: Sendable {
    private let start = ContinuousClock.now
    private let offset = Mutex(Duration.zero)

    var elapsedSeconds: Double {
        let d = offset.withLock { $0 }
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    var limiterClock: RateLimiter.Clock {
        RateLimiter.Clock(now: { [self] in start + offset.withLock { $0 } }, sleep: { [self] d in offset.withLock { $0 += d } })
    }
}

/// Storage URL errors quote the URL to help the operator, but never a credential in it.
@Test(arguments: [
    "ftp://user:s3cr3t@host/x", "https://user:s3cr3t@host/x", "http://user:s3cr3t@/x", "local://user:s3cr3t@x",
    "s3://bucket/p?secret-access-key=s3cr3t", "s3://user:s3cr3t@/p", "gs://user:s3cr3t@bucket/p",
])
func storageURLErrorsNeverEchoACredential(url: String) {
    do {
        _ = try StorageLocation.parse(url)
        Issue.record("\(url) was accepted")
    } catch {
        #expect(!error.description.contains("s3cr3t"), "\(error.description)")
    }
}
