import Foundation
import Testing
@testable import TestSupport
@testable import KVProto

/// The generated messages against an independent reader and writer: Python's protobuf with the
/// modules that grpcio-tools built from kvproto's own .proto files (Tests/WireClient/kvproto).
@Suite struct KVProtoBytesTests {
    static let modules = repositoryRoot + "/Tests/WireClient/kvproto"

    /// Runs `code` in Python with kvproto's modules importable; `input` is its argv[1].
    static func python(_ code: String, _ input: String) throws -> String {
        let out = try runProgram("python3", ["-c", "import sys; sys.path.insert(0, '\(modules)')\n" + code, input])
        #expect(out.status == 0, "\(out.stderr)")
        return out.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func aDownloadRequestWeWriteIsReadByKvprotosPython() throws {
        var request = ImportSstpb_DownloadRequest()
        request.sst.uuid = Data([1, 2, 3, 4])
        request.sst.cfName = "write"
        request.sst.regionID = 42
        request.sst.regionEpoch.version = 9
        request.sst.regionEpoch.confVer = 3
        request.sst.range.start = Data("t\u{80}".utf8)
        request.sst.totalKvs = 1_000
        request.sst.cipherIv = Data(repeating: 7, count: 16)
        request.name = "1_2_3_write.sst"
        var rule = ImportSstpb_RewriteRule()
        rule.oldKeyPrefix = Data("t\u{80}\0\0\0\0\0\0\u{64}".utf8)
        rule.newKeyPrefix = Data("t\u{80}\0\0\0\0\0\u{23}\u{8c}".utf8)
        rule.newTimestamp = 77
        request.rewriteRule = rule
        request.storageCacheID = "cache-1"
        request.storageBackend.local.path = "/backups/one"
        let hex = try request.serializedData().map { String(format: "%02x", $0) }.joined()
        let read = try Self.python("""
            import import_sstpb_pb2 as m
            r = m.DownloadRequest(); r.ParseFromString(bytes.fromhex(sys.argv[1]))
            print(r.sst.uuid.hex(), r.sst.cf_name, r.sst.region_id, r.sst.region_epoch.version, r.sst.region_epoch.conf_ver,
                  r.sst.range.start.hex(), r.sst.total_kvs, r.sst.cipher_iv.hex(), r.name, r.rewrite_rule.old_key_prefix.hex(),
                  r.rewrite_rule.new_key_prefix.hex(), r.rewrite_rule.new_timestamp, r.storage_cache_id, r.storage_backend.local.path)
            """, hex)
        let expected = [
            "01020304", "write", "42", "9", "3", Data("t\u{80}".utf8).map { String(format: "%02x", $0) }.joined(), "1000",
            String(repeating: "07", count: 16), "1_2_3_write.sst", rule.oldKeyPrefix.map { String(format: "%02x", $0) }.joined(),
            rule.newKeyPrefix.map { String(format: "%02x", $0) }.joined(), "77", "cache-1", "/backups/one",
        ]
        #expect(read.split(separator: " ").map(String.init) == expected)
    }

    @Test func aBatchDownloadRequestFromKvprotosPythonIsReadByUs() throws {
        let hex = try Self.python("""
            import import_sstpb_pb2 as m
            r = m.DownloadRequest(name="batch", storage_cache_id="c")
            for i in range(3):
                meta = r.ssts["f%d.sst" % i]
                meta.cf_name = "default"; meta.region_id = 5; meta.length = 100 + i
            for p in (b"a", b"b"):
                rule = r.sorted_rewrite_rules.add(); rule.old_key_prefix = p; rule.new_key_prefix = p + b"x"
            print(r.SerializeToString().hex())
            """, "")
        let bytes = stride(from: 0, to: hex.count, by: 2).compactMap { i -> UInt8? in
            let start = hex.index(hex.startIndex, offsetBy: i)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)
        }
        let request = try ImportSstpb_DownloadRequest(serializedBytes: bytes)
        #expect(request.name == "batch" && request.storageCacheID == "c")
        #expect(request.ssts.keys.sorted() == ["f0.sst", "f1.sst", "f2.sst"])
        #expect(request.ssts["f2.sst"]?.length == 102 && request.ssts["f0.sst"]?.regionID == 5)
        #expect(request.sortedRewriteRules.map(\.newKeyPrefix) == [Data("ax".utf8), Data("bx".utf8)])
    }
}
