import Foundation
import Testing
import LoopbackServer

/// A directory under the system temp dir, removed when the value is released.
final class TemporaryDirectory {
    let path: String

    init(_ label: String = "restore-console-test") throws {
        let base = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// The result of running an outside program, such as `sst_dump` or `ldb`.
struct CommandOutput {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a program found on PATH and waits for it.
func runProgram(_ name: String, _ arguments: [String]) throws -> CommandOutput {
    try runExecutable("/usr/bin/env", [name] + arguments)
}

/// Runs an executable with extra environment variables and waits for it.
func runExecutable(_ path: String, _ arguments: [String], environment: [String: String] = [:]) throws -> CommandOutput {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes before waiting, so a large output cannot block the child.
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandOutput(
        status: process.terminationStatus,
        stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self))
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Runs a shell command line, for redirections that `runProgram` cannot express.
func runShell(_ command: String) throws -> CommandOutput {
    try runProgram("bash", ["-c", command])
}

/// The repository's root, for scripts and the .proto files.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// The Python clients built from kvproto's own protos (Tests/WireClient).
let wireClientScripts = repositoryRoot + "/Tests/WireClient"

/// A server from scripts/test-servers on a free loopback port; it lives while this object does.
typealias TestServer = LoopbackServer

extension LoopbackServer {
    convenience init(script: String, _ arguments: [String]) throws {
        try self.init(path: "\(repositoryRoot)/scripts/test-servers/\(script)", arguments)
    }
}

/// The restore-console binary, run as an operator runs it.
let consoleBinary = "\(repositoryRoot)/.build/debug/restore-console"

func runConsole(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandOutput {
    try runExecutable(consoleBinary, arguments, environment: environment)
}

/// The console started in the background, its output to `stdout` (a file) or nowhere.
func startConsole(_ arguments: [String], stdout: String? = nil, stderr: String? = nil) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: consoleBinary)
    process.arguments = arguments
    if let stdout {
        _ = FileManager.default.createFile(atPath: stdout, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdout))
    } else {
        process.standardOutput = FileHandle.nullDevice
    }
    if let stderr {
        _ = FileManager.default.createFile(atPath: stderr, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderr))
    } else {
        process.standardError = FileHandle.nullDevice
    }
    try process.run()
    return process
}

/// Waits until `condition` holds, checking every 10 ms; records an issue when `timeout` passes first.
func waitUntil(timeout: Duration = .seconds(5), _ condition: () async -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("condition not met within \(timeout)")
}
