import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ClusterAPI
@testable import RestoreDriver

@Suite struct CheckpointTests {
    static let header = Checkpoint.Header(backup: "bk", tableIDs: ["db.t": 205], rules: ["t105_ -> t205_"])

    func range(_ a: String, _ b: String) -> KeyRange { KeyRange(start: bytes(a), end: bytes(b)) }

    @Test func piecesSurviveAReopen() async throws {
        let dir = try TemporaryDirectory()
        do {
            let checkpoint = try Checkpoint(clusterDirectory: dir.path, header: Self.header)
            #expect(!checkpoint.isResume)
            try await checkpoint.markDone(sets: [1], range: range("a", "c"))
            try await checkpoint.markDone(sets: [2], range: range("c", "e"))
        }
        let reopened = try Checkpoint(clusterDirectory: dir.path, header: .init(backup: "bk", tableIDs: [:], rules: []))
        #expect(reopened.header == Self.header, "the saved header wins: a resume rewrites to the same tables")
        #expect(reopened.isResume)
        #expect(reopened.isDone(set: 1, range: range("a", "b")))
        #expect(!reopened.isDone(set: 1, range: range("a", "d")))
        #expect(reopened.remaining(set: 1, range: range("0", "z")) == [range("0", "a"), range("c", "z")])
    }

    @Test func aTornLastLineDoesNotSwallowTheNextPiece() async throws {
        let dir = try TemporaryDirectory()
        let path: String
        do {
            let checkpoint = try Checkpoint(clusterDirectory: dir.path, header: Self.header)
            try await checkpoint.markDone(sets: [1], range: range("a", "c"))
            path = checkpoint.path
        }
        // A kill in the middle of the next line's write.
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"set":2,"sta"#.utf8))
        try handle.close()

        do {
            let checkpoint = try Checkpoint(clusterDirectory: dir.path, header: Self.header)
            #expect(FileManager.default.contents(atPath: path)?.last == UInt8(ascii: "\n"), "the fragment is cut off")
            #expect(!checkpoint.isDone(set: 2, range: range("c", "e")))
            try await checkpoint.markDone(sets: [3], range: range("e", "g"))
        }
        let reopened = try Checkpoint(clusterDirectory: dir.path, header: Self.header)
        #expect(reopened.isDone(set: 1, range: range("a", "c")))
        #expect(reopened.isDone(set: 3, range: range("e", "g")), "the piece written after the torn line is kept")
    }

    @Test func aTornHeaderStartsOver() throws {
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("checkpoints"), withIntermediateDirectories: true)
        try Data(#"{"backup":"b"#.utf8).write(to: URL(fileURLWithPath: dir.file("checkpoints/bk.log")))
        let checkpoint = try Checkpoint(clusterDirectory: dir.path, header: Self.header)
        #expect(checkpoint.header == Self.header)
        #expect(!checkpoint.isResume)
    }
}
