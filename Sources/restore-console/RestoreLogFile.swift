import ArgumentParser
import Foundation
import Logging
import Synchronization

/// The restore's log on disk: JSON lines, appended, rotated by size. Each line is one `write(2)`
/// on a file opened with O_APPEND and nothing is buffered, so after a kill -9 the file is readable
/// up to the last line written.
final class RotatingLogFile: Sendable {
    let path: String
    let maxBytes: UInt64
    /// Rotated files kept beside the live one: `restore.log.1` (the newest) to `.keep`.
    let keep: Int
    private let file: Mutex<(descriptor: Int32, size: UInt64)>

    init(path: String, maxBytes: UInt64, keep: Int = 5) throws {
        self.path = path
        self.maxBytes = maxBytes
        self.keep = keep
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let descriptor = try Self.open(path)
        var info = stat()
        fstat(descriptor, &info)
        file = Mutex((descriptor, UInt64(info.st_size)))
    }

    deinit { file.withLock { _ = close($0.descriptor) } }

    private static func open(_ path: String) throws -> Int32 {
        let descriptor = Foundation.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw StartFailure("cannot open the log \(path): \(String(cString: strerror(errno)))") }
        return descriptor
    }

    func append(_ line: [UInt8]) {
        file.withLock { file in
            line.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let n = write(file.descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    guard n > 0 else { return }  // a full disk loses log lines, never the restore
                    offset += n
                }
            }
            file.size += UInt64(line.count)
            guard file.size >= maxBytes, let reopened = rotate(closing: file.descriptor) else { return }
            file = (reopened, 0)
        }
    }

    /// Shifts `path.k` to `path.k+1` (the oldest falls off), the live file to `path.1`, and opens
    /// a new one.
    private func rotate(closing descriptor: Int32) -> Int32? {
        close(descriptor)
        unlink("\(path).\(keep)")
        for k in stride(from: keep - 1, through: 1, by: -1) { rename("\(path).\(k)", "\(path).\(k + 1)") }
        rename(path, "\(path).1")
        return try? Self.open(path)
    }
}

/// swift-log's handler for the log file: one JSON object per record, with its time, level,
/// event and metadata.
struct JSONLinesLogHandler: LogHandler {
    let file: RotatingLogFile
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var line: [UInt8] = []
        line.reserveCapacity(256)
        line.append(contentsOf: #"{"time":""#.utf8)
        Self.appendTimestamp(Date(), to: &line)
        line.append(contentsOf: #"","level":"#.utf8)
        Self.appendQuoted(event.level.rawValue, to: &line)
        line.append(contentsOf: #","event":"#.utf8)
        Self.appendQuoted(event.message.description, to: &line)
        let fields = metadata.isEmpty ? event.metadata ?? [:] : metadata.merging(event.metadata ?? [:], uniquingKeysWith: { _, new in new })
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            line.append(UInt8(ascii: ","))
            Self.appendQuoted(key, to: &line)
            line.append(UInt8(ascii: ":"))
            Self.appendQuoted(value.description, to: &line)
        }
        line.append(contentsOf: "}\n".utf8)
        file.append(line)
    }

    /// Appends the time as ISO 8601 in UTC, to the millisecond (`2026-12-06T09:15:57.123Z`), digit
    /// by digit, without a formatter or a string: a restore logs several records a region, tens of
    /// thousands of regions.
    static func appendTimestamp(_ date: Date, to out: inout [UInt8]) {
        let since1970 = date.timeIntervalSince1970
        var seconds = time_t(since1970.rounded(.down))
        let millis = min(999, Int((since1970 - Double(seconds)) * 1_000))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func digits(_ n: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(n / divisor % 10))
                divisor /= 10
            }
        }
        digits(Int(parts.tm_year) + 1900, 4)
        out.append(UInt8(ascii: "-")); digits(Int(parts.tm_mon) + 1, 2)
        out.append(UInt8(ascii: "-")); digits(Int(parts.tm_mday), 2)
        out.append(UInt8(ascii: "T")); digits(Int(parts.tm_hour), 2)
        out.append(UInt8(ascii: ":")); digits(Int(parts.tm_min), 2)
        out.append(UInt8(ascii: ":")); digits(Int(parts.tm_sec), 2)
        out.append(UInt8(ascii: ".")); digits(millis, 3)
        out.append(UInt8(ascii: "Z"))
    }

    /// Appends `s` as a JSON string literal: its UTF-8 as it is, but for the quote, the backslash
    /// and control characters.
    static func appendQuoted(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\n"): out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\t"): out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case ..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// `--log-file` and `--log-max-size`, for the commands that restore.
struct LogOptions: ParsableArguments {
    @Option(name: .customLong("log-file"), help: "The restore's log, JSON lines (default: <cluster or state dir>/logs/restore.log).")
    var path: String?

    @Option(name: .customLong("log-max-size"), help: "Rotate the log at this size (K, M, G); five rotated files are kept.")
    var maxSize = "64M"

    /// Opens the log (in `directory`/logs unless `--log-file` says where) and sends swift-log's
    /// records to it; returns the restore's logger.
    func start(in directory: String) throws -> Logger {
        let file = try RotatingLogFile(path: path ?? "\(directory)/logs/restore.log", maxBytes: try RestoreArguments.parseSize(maxSize, what: "--log-max-size"))
        LoggingSystem.bootstrap { _ in JSONLinesLogHandler(file: file) }
        return Logger(label: "restore-console")
    }
}
