import Foundation
import Testing
import GRPCCore
@testable import TestSupport
@testable import KVProtoGRPC

/// The generated services name the same methods as kvproto's own, read from the Python modules
/// that grpcio-tools built from kvproto's .proto files: a method missing, renamed or misspelled
/// here would answer UNIMPLEMENTED to a real BR.
@Suite struct ServiceDescriptorTests {
    static func kvprotoMethods(module: String, service: String) throws -> Set<String> {
        let code = """
            import sys; sys.path.insert(0, '\(repositoryRoot)/Tests/WireClient/kvproto')
            import \(module) as m
            print("\\n".join(x.full_name for x in m.DESCRIPTOR.services_by_name["\(service)"].methods))
            """
        let out = try runProgram("python3", ["-c", code])
        #expect(out.status == 0, "\(out.stderr)")
        return Set(out.stdout.split(separator: "\n").map(String.init))
    }

    static func names(_ descriptors: [MethodDescriptor]) -> Set<String> {
        Set(descriptors.map { "\($0.service.fullyQualifiedService).\($0.method)" })
    }

    @Test func importSSTHasKvprotosMethods() throws {
        let expected = try Self.kvprotoMethods(module: "import_sstpb_pb2", service: "ImportSST")
        #expect(expected.contains("import_sstpb.ImportSST.BatchDownload"))
        #expect(Self.names(ImportSstpb_ImportSST.Method.descriptors) == expected)
    }

    @Test func pdHasKvprotosMethods() throws {
        let expected = try Self.kvprotoMethods(module: "pdpb_pb2", service: "PD")
        #expect(expected.contains("pdpb.PD.GetMembers"))
        #expect(Self.names(Pdpb_PD.Method.descriptors) == expected)
    }
}
