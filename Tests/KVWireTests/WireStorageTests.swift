import Testing
@testable import ExternalStorage
@testable import KVProto
@testable import KVWire

/// The storage a request names, as a store opens it: names that end up in a URL's host are names.
@Suite struct WireStorageTests {
    func s3(bucket: String, region: String = "") -> Backup_StorageBackend {
        var backend = Backup_StorageBackend()
        backend.s3.bucket = bucket
        backend.s3.region = region
        return backend
    }

    @Test func aBucketOrRegionThatWouldChangeTheHostIsRefused() {
        // Without an endpoint the URL is built from them: https://s3.REGION.amazonaws.com/BUCKET.
        for bucket in ["evil.example/x?", "a@evil.example", "b#c", "b:80", "b c"] {
            #expect(throws: StorageError.self, "\(bucket)") { _ = try WireStorage.open(s3(bucket: bucket)) }
        }
        for region in ["evil.example/x?", "us-east-1.evil.example", "eu@x"] {
            #expect(throws: StorageError.self, "\(region)") { _ = try WireStorage.open(s3(bucket: "backups", region: region)) }
        }
    }

    @Test func ordinaryNamesOpen() throws {
        let storage = try WireStorage.open(s3(bucket: "br-backups.2026_12", region: "ap-southeast-1"))
        #expect((storage as? S3Storage)?.location.endpoint == "https://s3.ap-southeast-1.amazonaws.com")
    }
}
