import ArgumentParser
import KeyCodec

struct KeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Decode a key (hex) as TiKV and TiDB see it: data prefix, memcomparable, timestamp, table codec."
    )

    @Argument(help: "The key in hex, optionally with 0x.")
    var hex: String

    func run() throws {
        guard let bytes = [UInt8](hex: hex) else {
            throw ValidationError("'\(hex)' is not hex: use two digits per byte, such as 7480000000000000ff")
        }
        for line in KeyDescription(bytes).lines { print(line) }
    }
}
