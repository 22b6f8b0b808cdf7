import ArgumentParser
import KeyCodec

struct SSTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sst",
        abstract: "Summarize an SST file: entries, key range, block checksums and the crc64xor checksum."
    )

    @Argument(help: "Path to the .sst file.")
    var path: String

    @Option(name: .long, help: "Also print the first N entries.")
    var head: Int = 0

    func run() throws {
        let reader = try SSTReader(path: path)
        try reader.verifyChecksums()
        let checksum = try reader.checksum()
        print("file      \(path)")
        print("entries   \(reader.entryCount)")
        print("blocks    checksums ok")
        print("checksum  \(checksum)")
        if let first = try reader.firstKey, let last = try reader.lastKey {
            print("first     \(KeyDescription(first).summary)")
            print("last      \(KeyDescription(last).summary)")
        }
        var shown = 0
        try reader.scan { key, value in
            guard shown < head else { return false }
            shown += 1
            print("  \(KeyDescription(Array(key)).summary) => \(Array(value).hexString)")
            return true
        }
    }
}
