import Foundation

/// `restore-console cluster serve` in a process of its own, on free ports, as an operator starts
/// it, for the tests and benchmarks: the addresses it prints once every listener is bound, and
/// SIGINT to stop it (it closes the cluster before it exits).
public final class ServedCluster {
    private let process = Process()
    /// PD's address, `127.0.0.1:PORT`.
    public let pd: String
    /// Each store's address, in store id order.
    public let stores: [String]

    /// `stores`: how many the cluster has (the lines to wait for); `stderr`: a file for the
    /// server's messages, or none.
    public init(binary: String, directory: String, stores count: Int = 3, pd listen: String = "127.0.0.1:0", arguments: [String] = [], stderr: String? = nil) throws {
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["cluster", "serve", "--cluster", directory, "--pd", listen, "--store-port", "0"] + arguments
        process.standardOutput = output
        if let stderr {
            _ = FileManager.default.createFile(atPath: stderr, contents: nil)
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderr))
        } else {
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        var lines: [String] = []
        var line = ""
        while lines.count < 1 + count {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty { break }
            if byte == Data("\n".utf8) {
                lines.append(line)
                line = ""
            } else {
                line += String(decoding: byte, as: UTF8.self)
            }
        }
        guard let first = lines.first, first.hasPrefix("pd "), lines.count == 1 + count else {
            process.terminate()
            process.waitUntilExit()
            throw ServerLaunchFailure(description: "cluster serve did not start: \(lines)")
        }
        pd = String(first.split(separator: " ")[1])
        stores = lines.dropFirst().map { String($0.split(separator: " ")[2]) }
    }

    /// SIGINT, then waits; returns the exit status.
    @discardableResult
    public func stop() -> Int32 {
        if process.isRunning { process.interrupt() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit { stop() }
}
