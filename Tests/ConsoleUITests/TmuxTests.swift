import Foundation
import Testing

/// The console in a real terminal: tmux runs `restore-console demo`, keys go in with send-keys and
/// the screen comes back with capture-pane.
@Suite(.serialized) struct TmuxTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    let socket = "restore-console-test-\(UUID().uuidString.prefix(8))"

    /// Runs tmux on our own server socket through the shell (popen), and returns what it printed.
    /// popen waits for the client itself; tmux's server daemonizes and outlives the call.
    @discardableResult
    func tmux(_ args: [String]) throws -> String {
        let line = (["tmux", "-L", socket] + args).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        guard let pipe = popen(line + " 2>/dev/null </dev/null", "r") else { throw CocoaError(.fileReadUnknown) }
        var output = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buffer, 1, buffer.count, pipe)
            if n <= 0 { break }
            output += buffer[0..<n]
        }
        pclose(pipe)
        return String(decoding: output, as: UTF8.self)
    }

    func screen() throws -> String { try tmux(["capture-pane", "-t", "e2e", "-p"]) }

    /// Waits until the screen shows `text`; returns the screen.
    @discardableResult
    func waitFor(_ text: String, timeout: Duration = .seconds(30)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        var last = ""
        while ContinuousClock.now < deadline {
            last = try screen()
            if last.contains(text) { return last }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("screen never showed '\(text)'; last screen:\n\(last)")
        throw CancellationError()
    }

    func keys(_ k: String...) throws { try tmux(["send-keys", "-t", "e2e"] + k) }

    @Test func theDemoInAReadTerminal() async throws {
        let dir = NSTemporaryDirectory() + "restore-console-tmux-\(UUID().uuidString)"
        defer {
            _ = try? tmux(["kill-server"])
            try? FileManager.default.removeItem(atPath: dir)
        }
        let binary = Self.root + "/.build/debug/restore-console"
        let command = "\(binary) demo --dir \(dir) --rows 20000 --rate 512K; echo EXITED $?; sleep 60"
        // The server outlives this call, so its output must not be a pipe we wait on.
        try tmux(["new-session", "-d", "-s", "e2e", "-x", "120", "-y", "36", command])

        try await waitFor("Regions (sort: stuck first", timeout: .seconds(60))
        try await waitFor("[dl ", timeout: .seconds(30))

        // Pause the selected region, see it paused, resume it.
        try keys("G")  // the last row: a queued region
        try keys("p")
        try await waitFor("paused by operator")
        try await waitFor("[paused]")
        try keys("p")
        try await waitFor("resumed by operator")

        // Help, then the detail view.
        try keys("?")
        try await waitFor("Navigate")
        try keys("x")
        try keys("Enter")
        try await waitFor("Attempts (newest first)")
        try keys("Escape")

        // Narrow, then wide again: the screen follows.
        try tmux(["resize-window", "-t", "e2e", "-x", "80", "-y", "24"])
        let narrow = try await waitFor("Regions (sort:")
        #expect(narrow.split(separator: "\n").allSatisfy { $0.count <= 80 })
        try tmux(["resize-window", "-t", "e2e", "-x", "120", "-y", "36"])

        // Faster, then wait for the checksum and quit.
        for _ in 0..<5 { try keys("+") }
        try await waitFor("checksum [match]", timeout: .seconds(180))
        try keys("q")
        let after = try await waitFor("EXITED 0")
        #expect(after.contains("[restore ok]"))
        #expect(!after.contains("Regions (sort:"), "the terminal is restored")

        // The restored data checks out on its own.
        let verify = Process()
        verify.executableURL = URL(fileURLWithPath: binary)
        verify.arguments = ["verify", "--storage", dir + "/backup", "--cluster", dir + "/cluster"]
        verify.standardOutput = FileHandle.nullDevice
        verify.standardError = FileHandle.nullDevice
        try verify.run()
        verify.waitUntilExit()
        #expect(verify.terminationStatus == 0)
    }

    /// Ctrl-C in the middle of a restore: the terminal comes back, and the screen says how to resume.
    @Test func anInterruptRestoresTheTerminalAndSaysHowToResume() async throws {
        let dir = NSTemporaryDirectory() + "restore-console-tmux-\(UUID().uuidString)"
        defer {
            _ = try? tmux(["kill-server"])
            try? FileManager.default.removeItem(atPath: dir)
        }
        let binary = Self.root + "/.build/debug/restore-console"
        try tmux(["new-session", "-d", "-s", "e2e", "-x", "100", "-y", "30", "\(binary) demo --dir \(dir) --rows 20000 --rate 256K; echo EXITED $?; sleep 60"])
        try await waitFor("[dl ", timeout: .seconds(60))
        try keys("C-c")
        let after = try await waitFor("EXITED 1")
        #expect(after.contains("Resume with the same command"))
        #expect(after.contains("demo --dir"))
        #expect(!after.contains("Regions (sort:"), "the terminal is restored")
    }
}
