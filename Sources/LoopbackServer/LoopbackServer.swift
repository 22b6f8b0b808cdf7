import Foundation

/// A helper server (a loopback script, or `cluster serve`) that did not come up, with what it said.
public struct ServerLaunchFailure: Error, CustomStringConvertible {
    public let description: String
}

/// One of the repository's loopback servers (scripts/test-servers) on a free port, for the tests,
/// the benchmarks and the chaos campaign. The script prints "port N" once it listens and exits when
/// its stdin closes, so it never outlives the process that started it.
public final class LoopbackServer {
    private let process = Process()
    private let input = Pipe()
    public let port: Int

    public init(path script: String, _ arguments: [String]) throws {
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script] + arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = ""
        while !line.hasSuffix("\n") {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty { break }
            line += String(decoding: byte, as: UTF8.self)
        }
        guard line.hasPrefix("port "), let port = Int(line.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw ServerLaunchFailure(description: "\(script) did not start: \(line)")
        }
        self.port = port
    }

    deinit { stop() }

    /// Closes the server's stdin and waits for it to exit.
    public func stop() {
        try? input.fileHandleForWriting.close()
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}
