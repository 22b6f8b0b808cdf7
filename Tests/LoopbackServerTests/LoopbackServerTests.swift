import Foundation
import Testing
@testable import TestSupport
@testable import LoopbackServer

/// A helper server comes up on the port it names, serves, and is gone once it is stopped; one that
/// cannot start says so instead of hanging.
@Suite struct LoopbackServerTests {
    /// What a GET of `url` returns (the body, or "refused"), read by Python's urllib.
    static func get(_ url: String) throws -> String {
        let code = """
            import sys, urllib.request
            try: print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode(), end="")
            except OSError: print("refused", end="")
            """
        return try runProgram("python3", ["-c", code, url]).stdout
    }

    @Test func aServerServesOnItsPortUntilStopped() throws {
        let dir = try TemporaryDirectory()
        try Data("hello from the root".utf8).write(to: URL(fileURLWithPath: dir.file("greeting.txt")))
        let server = try LoopbackServer(script: "static_http.py", ["--root", dir.path])
        let url = "http://127.0.0.1:\(server.port)/greeting.txt"
        #expect(try Self.get(url) == "hello from the root")
        server.stop()
        #expect(try Self.get(url) == "refused")
    }

    @Test func aScriptThatDoesNotStartIsAnErrorNamingIt() throws {
        let dir = try TemporaryDirectory()
        let script = dir.file("broken.py")
        try Data("import sys\nprint('no port today')\n".utf8).write(to: URL(fileURLWithPath: script))
        #expect {
            _ = try LoopbackServer(path: script, [])
        } throws: { error in
            "\(error)".contains("broken.py did not start") && "\(error)".contains("no port today")
        }
    }
}
