import Foundation
import LoopbackServer
import KeyCodec
import ExternalStorage
import BackupFormat

/// HTTP fetch into a local file, verified (length and sha256), against `curl -o` of the same files
/// from the same loopback server.
enum DownloadBenchmark {
    struct Result {
        var ours: Double
        var curl: Double
        var bytes: UInt64
    }

    static func run(directory: String, files: Int, fileSize: Int, repositoryRoot: String) throws -> Result {
        let root = directory + "/http"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        var expected: [ExpectedContent] = []
        var random = SyntheticRandom(seed: 5)
        for i in 0..<files {
            var bytes = [UInt8](repeating: 0, count: fileSize)
            bytes.withUnsafeMutableBytes { raw in
                let words = raw.bindMemory(to: UInt64.self)
                for w in words.indices { words[w] = random.next() }
            }
            _ = FileManager.default.createFile(atPath: "\(root)/f\(i).bin", contents: Data(bytes))
            expected.append(ExpectedContent(size: UInt64(fileSize), sha256: SHA256Digest.hash(bytes)))
        }
        let server = try LoopbackServer(path: "\(repositoryRoot)/scripts/test-servers/static_http.py", ["--root", root])
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)"
        let storage = HTTPStorage(baseURL: base)
        let total = Double(files * fileSize)

        var oursTimes: [Double] = [], curlTimes: [Double] = []
        // Alternating, best of five each (see RewriteBenchmark).
        for _ in 0..<5 {
            let start = ContinuousClock.now
            for i in 0..<files {
                let target = "\(directory)/ours-\(i).temp"
                try storage.download("f\(i).bin", to: target, expected: expected[i], limiter: nil, progress: nil)
                unlink(target)
            }
            oursTimes.append(RewriteBenchmark.seconds(ContinuousClock.now - start))
            let curlStart = ContinuousClock.now
            for i in 0..<files {
                let curl = Process()
                curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                curl.arguments = ["curl", "-s", "-o", "\(directory)/curl-\(i).bin", "\(base)/f\(i).bin"]
                try curl.run()
                curl.waitUntilExit()
                unlink("\(directory)/curl-\(i).bin")
            }
            curlTimes.append(RewriteBenchmark.seconds(ContinuousClock.now - curlStart))
        }
        return Result(ours: total / oursTimes.min()! / 1e6, curl: total / curlTimes.min()! / 1e6, bytes: UInt64(total))
    }
}
