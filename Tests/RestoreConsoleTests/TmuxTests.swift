import Foundation
import Testing
@testable import TestSupport
import LoopbackServer

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

    /// The screen once two captures in a row agree. tmux reads a frame from the pty in pieces, so
    /// one capture may hold half of a frame and half of the one before it.
    func settledScreen() throws -> String {
        var last = try screen()
        for _ in 0..<20 {
            let next = try screen()
            if next == last { return next }
            last = next
        }
        return last
    }

    /// Waits until a settled screen satisfies `holds`; returns that screen. `what` names it in
    /// the failure, with the last screen seen.
    @discardableResult
    func waitUntil(_ what: String, timeout: Duration = .seconds(30), _ holds: (String) -> Bool) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        var last = ""
        while ContinuousClock.now < deadline {
            last = try settledScreen()
            if holds(last) { return last }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("the screen never showed \(what); last screen:\n\(last)")
        try? "waited for \(what)\n\(last)".write(toFile: NSTemporaryDirectory() + "tmux-last-screen.txt", atomically: true, encoding: .utf8)
        throw CancellationError()
    }

    /// Waits until the screen shows `text`; returns the screen.
    @discardableResult
    func waitFor(_ text: String, timeout: Duration = .seconds(30)) async throws -> String {
        try await waitUntil("'\(text)'", timeout: timeout) { $0.contains(text) }
    }

    /// Waits until the screen shows a match of `pattern` (a regular expression).
    @discardableResult
    func waitFor(matching pattern: String, timeout: Duration = .seconds(30)) async throws -> String {
        try await waitUntil("/\(pattern)/", timeout: timeout) { $0.range(of: pattern, options: .regularExpression) != nil }
    }

    /// A peer cell of a download in progress, naming its store: `s2 dl 40%`, `s1* dl 7%`.
    static let downloadingPeer = #"s\d+\*? dl \d+%"#

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
        try await waitFor(matching: Self.downloadingPeer, timeout: .seconds(30))

        // Pause the selected region, see it paused, resume it.
        try keys("G")  // the last row: a queued region
        try keys("p")
        try await waitFor("paused by operator")
        try await waitFor(matching: #"s\d+\*? paused"#)
        try keys("p")
        try await waitFor("resumed by operator")

        // Help, then the detail view.
        try keys("?")
        try await waitFor("Navigate")
        try keys("x")
        try keys("Enter")
        try await waitFor("Attempts (newest first)")
        try keys("Escape")

        // The tables, the stores with their SSTs, and the whole event history, searched.
        try keys("T")
        try await waitUntil("the Tables overlay with demo.t1 to demo.t4, pending") {
            $0.contains("Tables 4") && $0.contains("demo.t1") && $0.contains("demo.t4") && $0.contains("pending")
        }
        try keys("x")
        try keys("v")
        try await waitFor(matching: #"s1  up  leaders \d+.*SSTs \d+ \("#)
        try keys("x")
        try keys("e")
        try await waitFor("Event history:")
        try keys("/", "s", "p", "l", "i", "t", "Enter")
        try await waitUntil("the event history filtered to 'split'") {
            $0.contains("events with 'split'") && !$0.contains("paused by operator")
        }
        try keys("Escape")
        try await waitFor("Regions (sort:")

        // Narrow, then wide again: the screen follows.
        try tmux(["resize-window", "-t", "e2e", "-x", "80", "-y", "24"])
        let narrow = try await waitFor("Regions (sort:")
        #expect(narrow.split(separator: "\n").allSatisfy { $0.count <= 80 })
        try tmux(["resize-window", "-t", "e2e", "-x", "120", "-y", "36"])

        // Faster, then wait for the checksum and quit.
        for _ in 0..<5 { try keys("+") }
        try await waitFor("checksum [match]", timeout: .seconds(180))
        // Once the run has ended, q quits at once (before, it asks).
        try await waitFor("restore finished")
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
        try await waitFor(matching: Self.downloadingPeer, timeout: .seconds(60))
        try keys("C-c")
        let after = try await waitFor("EXITED 1")
        #expect(after.contains("Resume with the same command"))
        #expect(after.contains("demo --dir"))
        #expect(!after.contains("Regions (sort:"), "the terminal is restored")
    }

    /// A backup of `tables` tables of 20,000 rows in `dir`/backup, and `cluster serve` of
    /// `dir`/cluster that may read it.
    static func serveWithBackup(binary: String, in dir: String, tables: Int, log: String? = nil) throws -> ServedCluster {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let backup = Process()
        backup.executableURL = URL(fileURLWithPath: binary)
        backup.arguments = ["backup", "--out", dir + "/backup", "--tables", "\(tables)", "--rows", "20000", "--file-size", "262144"]
        backup.standardError = FileHandle.nullDevice
        backup.standardOutput = FileHandle.nullDevice
        try backup.run()
        backup.waitUntilExit()
        #expect(backup.terminationStatus == 0)
        return try ServedCluster(binary: binary, directory: dir + "/cluster", arguments: ["--storage-root", dir + "/backup"], stderr: log)
    }

    /// The same console over kvproto's gRPC: `cluster serve` in the background, `restore --pd` in
    /// the terminal. The header names PD, regions and peers show, and the checksum says skipped.
    @Test func aRestoreOverGRPCInARealTerminal() async throws {
        let dir = NSTemporaryDirectory() + "restore-console-tmux-\(UUID().uuidString)"
        let binary = Self.root + "/.build/debug/restore-console"
        defer {
            _ = try? tmux(["kill-server"])
            try? FileManager.default.removeItem(atPath: dir)
        }
        let served = try Self.serveWithBackup(binary: binary, in: dir, tables: 3)
        defer { served.stop() }
        let pd = served.pd

        let command = "\(binary) restore --storage \(dir)/backup --pd \(pd) --state-dir \(dir)/state --rate 512K --merge-size 512K --table-id-map 100:1100,101:1101,102:1102; echo EXITED $?; sleep 60"
        try tmux(["new-session", "-d", "-s", "e2e", "-x", "200", "-y", "36", command])
        let header = try await waitFor("PD \(pd) (3 stores, 3 replicas)", timeout: .seconds(60))
        #expect(!header.contains("drill"), "a TiKV cluster offers no drills")
        try await waitFor(matching: Self.downloadingPeer, timeout: .seconds(30))
        for _ in 0..<6 { try keys("+") }
        // The checksum that each region's leader takes, per table in the tables view.
        try await waitFor("checksum [match]", timeout: .seconds(180))
        try keys("T")
        // Waited for, not read once: the overlay's rows come after its title in the frame.
        try await waitUntil("three tables matched in the Tables overlay") { screen in
            screen.contains("Tables 3") && screen.split(separator: "\n").filter { $0.contains("->110") && $0.contains(" matched") }.count == 3
        }
        try keys("x")
        try await waitFor("restore finished")
        try keys("q")
        let after = try await waitFor("EXITED 0")
        #expect(after.contains("[restore ok]"))
        #expect(after.contains("checksum=match"))
    }

    /// Quitting a restore over gRPC in the middle (q, then y) ends the process with its work in
    /// flight, as a crash would, but first sets PD's schedulers and config back: `cluster serve`
    /// says each pause and each resume, and PD has nothing paused after.
    @Test func aQuitOverGRPCSetsPDsSchedulersBack() async throws {
        let dir = NSTemporaryDirectory() + "restore-console-tmux-\(UUID().uuidString)"
        let binary = Self.root + "/.build/debug/restore-console"
        defer {
            _ = try? tmux(["kill-server"])
            try? FileManager.default.removeItem(atPath: dir)
        }
        let log = dir + "/serve.log"
        let served = try Self.serveWithBackup(binary: binary, in: dir, tables: 2, log: log)
        defer { served.stop() }
        let command = "\(binary) restore --storage \(dir)/backup --pd \(served.pd) --state-dir \(dir)/state --rate 256K --merge-size 512K --table-id-map 100:1100,101:1101; echo EXITED $?; sleep 60"
        try tmux(["new-session", "-d", "-s", "e2e", "-x", "160", "-y", "36", command])
        try await waitFor(matching: Self.downloadingPeer, timeout: .seconds(60))
        try keys("q")
        try keys("y")
        let after = try await waitFor("EXITED 1")
        #expect(after.contains("Resume with the same command"))
        let changes = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").filter { $0.hasPrefix("pd: ") }
        for scheduler in ["balance-hot-region-scheduler", "balance-leader-scheduler", "balance-region-scheduler", "evict-slow-store-scheduler"] {
            let paused = changes.firstIndex(of: "pd: paused \(scheduler) for 300 s"), resumed = changes.lastIndex(of: "pd: resumed \(scheduler)")
            #expect(paused != nil && resumed != nil && resumed! > paused!, "\(changes)")
        }
        #expect(changes.last?.hasPrefix("pd: config set back: ") == true, "\(changes)")
    }

    /// A restore with 7 stores and a few hundred regions at 140x36: while it runs, the top rows are
    /// never ingested regions while others still wait or move, every store has its row and rate in
    /// the Stores panel, and each peer cell names its store.
    /// The restore's threads run behind the console's: every thread of the process in the pane
    /// but one (the console's) at nice 10 (`WorkerPriority`), read from /proc. Threads that the
    /// pools start meanwhile are lowered within a second, so this waits for the count to settle.
    func expectWorkersBehindTheConsole() async throws {
        let shell = try tmux(["display", "-p", "-t", "e2e", "#{pane_pid}"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let children = (try? String(contentsOfFile: "/proc/\(shell)/task/\(shell)/children", encoding: .utf8)) ?? ""
        let pid = try #require(children.split(separator: " ").first.map(String.init), "the restore under the pane's shell \(shell)")
        func nices() -> [Int] {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            return tasks.compactMap { tid in
                // The fields after the command's closing parenthesis; nice is field 19 of stat.
                guard let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/stat", encoding: .utf8),
                      let close = stat.lastIndex(of: ")") else { return nil }
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                return fields.count > 16 ? Int(fields[16]) : nil
            }
        }
        let deadline = ContinuousClock.now + .seconds(10)
        var seen = nices()
        while ContinuousClock.now < deadline, seen.filter({ $0 == 0 }).count != 1 {
            try await Task.sleep(for: .milliseconds(200))
            seen = nices()
        }
        #expect(seen.filter { $0 == 0 }.count == 1, "one thread at the process's own priority: \(seen)")
        #expect(seen.filter { $0 == 10 }.count >= 3, "the restore's threads behind it: \(seen)")
    }

    @Test func sevenStoresAndHundredsOfRegions() async throws {
        let dir = NSTemporaryDirectory() + "restore-console-tmux-\(UUID().uuidString)"
        defer {
            _ = try? tmux(["kill-server"])
            try? FileManager.default.removeItem(atPath: dir)
        }
        let binary = Self.root + "/.build/debug/restore-console"
        let command = "\(binary) backup --out \(dir)/backup --tables 4 --rows 12000 --file-size 16384 >/dev/null 2>&1 && "
            + "\(binary) restore --storage \(dir)/backup --cluster \(dir)/cluster --stores 7 --replicas 3 --merge-size 16K --rate 256K; echo EXITED $?; sleep 60"
        try tmux(["new-session", "-d", "-s", "e2e", "-x", "140", "-y", "36", command])
        try await waitFor(matching: Self.downloadingPeer, timeout: .seconds(120))
        try await expectWorkersBehindTheConsole()
        var checked = 0
        var sawIngested = false
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let screen = try settledScreen()
            let lines = screen.split(separator: "\n").map(String.init)
            guard let counts = lines.first(where: { $0.hasPrefix(" Regions ") }), let total = Int(counts.split(separator: " ")[1].dropLast()) else { continue }
            #expect(total >= 200, "a few hundred regions: \(counts)")
            let rows = lines.filter { $0.hasPrefix("│") && $0.range(of: #"^│\d+ "#, options: .regularExpression) != nil }
            let open = counts.contains(" queued") && !counts.contains(" 0 queued") || counts.contains(" downloading") && !counts.contains(" 0 downloading")
            if open, let top = rows.first {
                #expect(!top.contains("ingested"), "an ingested region on top while others wait or move:\n\(screen)")
            }
            sawIngested = sawIngested || counts.range(of: #"[1-9]\d* ingested"#, options: .regularExpression) != nil
            for row in rows.prefix(5) {
                #expect(row.range(of: #"s\d+\*? (--|dl \d+%|rw|rdy|ing|ok|busy|retry|paused|down|FAILED)"#, options: .regularExpression) != nil, "a peer cell without its store: \(row)")
            }
            let stores = lines.filter { $0.range(of: #"^│s[1-7] +(up|down|PANIC)"#, options: .regularExpression) != nil }
            #expect(stores.count == 7, "every store has its row:\n\(screen)")
            for line in stores where line.contains(" up ") {
                #expect(line.range(of: #"[0-9.]+ (B|KiB|MiB|GiB)/s"#, options: .regularExpression) != nil, "a store's rate is whole: \(line)")
            }
            checked += 1
            try await Task.sleep(for: .milliseconds(400))
        }
        #expect(checked >= 10)
        #expect(sawIngested, "the restore moved on while it was watched")
        try keys("q")
        try keys("y")
    }
}
