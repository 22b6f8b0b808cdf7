import Foundation
import Failpoints
import KeyCodec
import ClusterAPI

/// Turns a downloaded backup SST into the SST a region ingests: it iterates the part of the file
/// that maps into the region, strips `z`, rewrites each key by the rules (and the timestamp of
/// keys and write records when a rule asks), and writes the keys that fall in the region. A key
/// that matches no rule is an error, never copied as it is.
public struct SSTRewriter: Sendable {
    public let rules: RewriteRules
    public let mode: KeyRewriter.Mode
    public let format: KeyRewriter.KeyFormat
    public let cf: ColumnFamily

    public init(rules: RewriteRules, mode: KeyRewriter.Mode, format: KeyRewriter.KeyFormat, cf: ColumnFamily) {
        self.rules = rules
        self.mode = mode
        self.format = format
        self.cf = cf
    }

    public struct Result: Equatable, Sendable {
        public var entries: UInt64
        public var firstKey: [UInt8]
        public var lastKey: [UInt8]
        public var bytes: UInt64
    }

    /// Rewrites `source` into `destination` for keys in `region` (encoded, without `z`). Returns nil
    /// when no key falls in the region (and writes nothing).
    public func rewrite(source: String, destination: String, name: String, region: KeyRange) throws(ImportError) -> Result? {
        // Block checksums are verified as the scan below reads each block (and in full before the
        // file is used as it is, on the fast path).
        let reader: SSTReader
        do { reader = try SSTReader(path: source) } catch { throw .corruptFile(name: name, reason: error.description) }
        // Every key of the file must match a rule, even those outside this region: check the ends,
        // and every key visited below.
        var probe: KeyRewriter
        do { probe = try KeyRewriter(rules: rules, mode: mode, format: format) } catch { throw .rewrite(name: name, error: error) }
        for end in [try? reader.firstKey, try? reader.lastKey] {
            guard let end = end ?? nil else { continue }
            do { _ = try probe.rewrite(dataKey: end) } catch { throw .rewrite(name: name, error: error) }
        }
        if let renamed = try fastPath(reader, source: source, destination: destination, name: name, region: region) { return renamed }

        var rewriter = probe
        let (seek, stop) = oldBounds(region)
        let rewriteValues = cf == .write && rules.rules.contains { $0.newTimestamp != 0 }

        var output: SSTWriter?
        // Whatever goes wrong below, no partial output is left for an ingest to find.
        var succeeded = false
        defer { if !succeeded { unlink(destination) } }
        var result = Result(entries: 0, firstKey: [], lastKey: [], bytes: 0)
        var key: [UInt8] = []
        var value: [UInt8] = []
        // A plain loop over the cursor, not a closure: the per-entry state stays in locals that
        // the optimizer keeps in registers, with no boxes, reference counting or access checks.
        do {
            let cursor = reader.makeCursor()
            try cursor.seek(DataKey.make(seek))
            while cursor.isValid {
                let dataKey = cursor.keyBytes, dataValue = cursor.valueBytes
                if let stop, compareKeys(UnsafeRawBufferPointer(rebasing: dataKey.dropFirst()), stop) >= 0 { break }
                let newTimestamp = try rewriter.rewrite(dataKey: dataKey, into: &key)
                if Self.inRegion(key, region) {
                    if output == nil { output = try SSTWriter(path: destination) }
                    if rewriteValues, newTimestamp != 0 {
                        try WriteRecord.replacingStartTS(in: dataValue, with: newTimestamp, into: &value)
                        try output!.put(key: key, value: value)
                    } else {
                        try key.withUnsafeBytes { try output!.put(key: $0, value: dataValue) }
                    }
                    if result.entries == 0 { result.firstKey = Array(key.dropFirst()) }
                    result.entries += 1
                    if result.entries & 511 == 0 { CrashPoint.rewrite.pass() }
                }
                try cursor.next()
            }
        } catch let e as RewriteError {
            throw .rewrite(name: name, error: e)
        } catch let e as SSTError {
            if case let .outOfOrder(_, _, key) = e { throw .rewrite(name: name, error: .reordered(key: key)) }
            throw .corruptFile(name: name, reason: e.description)
        } catch let e as WriteRecordError {
            throw .corruptFile(name: name, reason: "write record: \(e)")
        } catch {
            throw .io(path: destination, reason: "\(error)")
        }
        guard let output, result.entries > 0 else { return nil }
        try Self.seal(output, into: &result)
        succeeded = true
        return result
    }

    /// Finishes a rewrite's SST: its last key and size into `result`.
    static func seal(_ output: SSTWriter, into result: inout Result) throws(ImportError) {
        do {
            result.lastKey = Array(output.lastKey?.dropFirst() ?? [])
            result.bytes = try output.finish()
        } catch {
            throw .io(path: output.path, reason: error.description)
        }
    }

    /// True when a rewritten data key (`z` + key) lies in the region.
    static func inRegion(_ dataKey: [UInt8], _ region: KeyRange) -> Bool {
        dataKey.withUnsafeBytes { region.contains(UnsafeRawBufferPointer(rebasing: $0.dropFirst())) }
    }

    /// Identical prefixes, no timestamp change and a file inside the region: the file is used as it is.
    private func fastPath(_ reader: SSTReader, source: String, destination: String, name: String, region: KeyRange) throws(ImportError) -> Result? {
        guard rules.rules.allSatisfy({ $0.oldPrefix == $0.newPrefix && $0.newTimestamp == 0 }),
              let first = try? reader.firstKey, let last = try? reader.lastKey,
              first.first == DataKey.prefix, last.first == DataKey.prefix,
              Self.inRegion(first, region), Self.inRegion(last, region),
              rules.rule(for: first.dropFirst()) != nil, rules.rule(for: last.dropFirst()) != nil,
              rules.rules.count == 1
        else { return nil }
        do { try reader.verifyChecksums() } catch { throw .corruptFile(name: name, reason: error.description) }
        guard rename(source, destination) == 0 else { throw .io(path: destination, reason: String(cString: strerror(errno))) }
        return Result(entries: reader.entryCount, firstKey: Array(first.dropFirst()), lastKey: Array(last.dropFirst()), bytes: UInt64((try? FileManager.default.attributesOfItem(atPath: destination)[.size] as? UInt64) ?? 0))
    }

    /// Old-key bounds (encoded, without `z`) of the part of the file that maps into `region`:
    /// where to start and where to stop. Keys between the rules' ranges are still visited, so a
    /// key that matches no rule is found.
    func oldBounds(_ region: KeyRange) -> (seek: [UInt8], stop: [UInt8]?) {
        switch (format, mode) {
        case (.raw, _), (.transactional, .legacy):
            let parts = rules.oldRanges(for: region)
            guard !parts.isEmpty else { return ([], []) }
            let seek = parts.map(\.range.start).min(by: keyLess)!
            let ends = parts.map(\.range.end)
            return (seek, ends.contains([]) ? nil : ends.max(by: keyLess)!)
        case (.transactional, .keyspace):
            // Region bounds are encoded user keys: decode, map through the rules, encode again.
            guard let start = try? Memcomparable.decodeAll(region.start),
                  let end = region.end.isEmpty ? [] : try? Memcomparable.decodeAll(region.end)
            else { return ([], nil) }
            let parts = rules.oldRanges(for: KeyRange(start: start, end: end))
            guard !parts.isEmpty else { return ([], []) }
            let seek = Memcomparable.encode(parts.map(\.range.start).min(by: keyLess)!)
            let ends = parts.map(\.range.end)
            return (seek, ends.contains([]) ? nil : Memcomparable.encode(ends.max(by: keyLess)!))
        }
    }
}
