import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ExternalStorage
@testable import BackupFormat

/// A backup written to and read from an S3-compatible server on loopback.
@Suite struct S3BackupTests {
    @Test func s3BackupsRoundTripThroughAnS3CompatibleServer() throws {
        let server = try TestServer(script: "s3_server.py", [])
        let credentials = S3Credentials(accessKey: "AKIDEXAMPLE", secretKey: "S3CRET-DO-NOT-PRINT")
        let url = "s3://restore-tests/backups/one?endpoint=http://127.0.0.1:\(server.port)&region=us-east-1"
        let storage = try StorageFactory.open(url, credentials: credentials)
        try #require(storage as? S3Storage).createBucket()

        var options = BackupProducer.Options()
        options.tables = 2
        options.rows = 2_000
        options.fileSize = 64 << 10
        let produced = try BackupProducer(storage: storage, options: options).produce()
        let backup = try BackupReader(storage: storage).read()
        #expect(backup.files == produced.files)
        let listed = try storage.list(prefix: "")
        #expect(Set(backup.files.map(\.name)).isSubset(of: Set(listed)))
        #expect(listed.contains("backupmeta"))

        let dir = try TemporaryDirectory()
        let file = backup.files[0]
        try storage.download(file.name, to: dir.file("f.temp"), expected: file.expectedContent, limiter: nil, progress: nil)
        #expect(try SSTReader(path: dir.file("f.temp")).entryCount > 0)
        let fetched = try storage.fetch(file.name, expected: file.expectedContent, limiter: nil, progress: nil)
        #expect(try SSTReader(bytes: fetched, name: file.name).entryCount == SSTReader(path: dir.file("f.temp")).entryCount)

        #expect { try storage.read("no-such-object") } throws: { error in
            let text = "\(error)"
            guard case .notFound = error as? StorageError else { return false }
            return !text.contains("S3CRET") && !text.contains("AKIDEXAMPLE")
        }
        #expect(!storage.displayName.contains("S3CRET"))
    }
}
