import FuzzTargets
import Foundation

// restore-fuzz TARGET [arguments...]
//
// Built with `make fuzz-build` (-sanitize=fuzzer -DFUZZING), it hands the arguments to libFuzzer
// (corpus directories, -runs=N, ...). Built normally, it replays the files or directories it is
// given through the target, one by one, and names the file before each run (so a crash names it).
// libFuzzer re-runs this binary for -merge and -jobs with its own flags only, so the target
// also travels in the environment.
let environmentKey = "RESTORE_FUZZ_TARGET"
var arguments = CommandLine.arguments
if arguments.count >= 2, FuzzTarget(rawValue: arguments[1]) != nil {
    setenv(environmentKey, arguments[1], 1)
    arguments.remove(at: 1)
}
guard let name = getenv(environmentKey).map({ String(cString: $0) }), let target = FuzzTarget(rawValue: name)
else {
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
    FileHandle.standardError.write(Data("usage: restore-fuzz TARGET [libFuzzer arguments | files]; targets: \(names)\n".utf8))
    exit(2)
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

nonisolated(unsafe) var selected = target  // read by the C callback; written once, before the driver starts
var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
var argc = Int32(argv.count - 1)
let status = argv.withUnsafeMutableBufferPointer { buffer in
    var base = buffer.baseAddress
    return LLVMFuzzerRunDriver(&argc, &base) { data, size in
        selected.run(Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    }
}
exit(status)
#else
var count = 0
for path in arguments.dropFirst() {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        FileHandle.standardError.write(Data("restore-fuzz: no such file: \(path)\n".utf8))
        exit(2)
    }
    let files = isDirectory.boolValue ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 } : [path]
    for file in files {
        guard let data = FileManager.default.contents(atPath: file) else { continue }
        FileHandle.standardError.write(Data("replay \(file)\n".utf8))
        target.run([UInt8](data))
        count += 1
    }
}
print("restore-fuzz: \(target.rawValue): \(count) inputs replayed without a crash")
#endif
