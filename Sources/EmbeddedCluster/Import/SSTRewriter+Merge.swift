import Foundation
import Failpoints
import KeyCodec
import ClusterAPI

extension SSTRewriter {
    /// A downloaded backup file of a batch: in a local file or in memory, and its name in the
    /// backup.
    public struct Source: Sendable {
        public enum Content: Sendable {
            case file(path: String)
            case memory([UInt8])
        }

        public var content: Content
        public var name: String

        public init(path: String, name: String) {
            content = .file(path: path)
            self.name = name
        }

        public init(bytes: [UInt8], name: String) {
            content = .memory(bytes)
            self.name = name
        }

        /// A reader of the file; corruption names the backup's file.
        func open() throws(ImportError) -> SSTReader {
            do {
                switch content {
                case let .file(path): return try SSTReader(path: path)
                case let .memory(bytes): return try SSTReader(bytes: bytes, name: name)
                }
            } catch {
                throw .corruptFile(name: name, reason: error.description)
            }
        }
    }

    /// Files a merge reads at once: a download's share of the store's descriptors
    /// (`OpenFileBudget` counts four a download), whatever a batch holds.
    static let mergeWidth = 3

    /// BatchDownload's rewrite: each source's keys that map into `region`, rewritten as
    /// `rewrite(source:)` does, merged in key order into one SST at `destination`; a key that two
    /// files hold is written once, as TiKV's merge iterator does (tikv
    /// components/sst_importer/src/sst_merge_iter.rs). Files whose keys do not overlap (a backup's
    /// files of one column family never do) are read one after another; overlapping ones are
    /// merged `mergeWidth` at a time, through intermediate files. Returns nil when no key falls in
    /// the region (and writes nothing).
    public func merge(_ sources: [Source], into destination: String, region: KeyRange) throws(ImportError) -> Result? {
        guard let firstName = sources.first?.name else { return nil }
        // One key rewriter for every file of the batch, each stream a copy of it: building one (the
        // rules copied into buffers of their own) cost more than reading a small file's keys.
        let keys: KeyRewriter
        do { keys = try KeyRewriter(rules: rules, mode: mode, format: format) } catch { throw .rewrite(name: firstName, error: error) }
        if case let .merged(result) = try mergeInOrder(sources, keys: keys, into: destination, region: region) { return result }
        var bounded: [(source: Source, first: [UInt8], last: [UInt8])] = []
        for source in sources {
            let reader = try source.open()
            let ends: (first: [UInt8]?, last: [UInt8]?)
            do { ends = (try reader.firstKey, try reader.lastKey) } catch { throw .corruptFile(name: source.name, reason: error.description) }
            guard let first = ends.first, let last = ends.last else { continue }  // no entries
            bounded.append((source, first, last))
        }
        bounded.sort { keyLess($0.first, $1.first) }
        // Runs of files whose key ranges overlap, in key order.
        var runs: [[Source]] = []
        var runEnd: [UInt8] = []
        for file in bounded {
            if runs.isEmpty || keyLess(runEnd, file.first) {
                runs.append([file.source])
                runEnd = file.last
            } else {
                runs[runs.count - 1].append(file.source)
                if keyLess(runEnd, file.last) { runEnd = file.last }
            }
        }
        var writer = MergeWriter(destination: destination)
        defer { writer.abandon() }
        for run in runs {
            var streams: [RewrittenStream] = []
            var rest = run[...]
            var intermediates: [String] = []
            defer { intermediates.forEach { unlink($0) } }
            // More overlapping files than a merge reads at once: merge them into intermediate
            // files first, each already rewritten.
            while rest.count > Self.mergeWidth {
                let path = "\(destination).\(intermediates.count).merge"
                intermediates.append(path)
                var part = MergeWriter(destination: path)
                defer { part.abandon() }
                var inputs = try rest.prefix(Self.mergeWidth).map { (s: Source) throws(ImportError) in try RewrittenStream(s, rewriter: self, keys: keys, region: region) }
                if let previous = intermediates.dropLast().last { inputs.append(try RewrittenStream(rewritten: previous, name: run[0].name)) }
                rest = rest.dropFirst(Self.mergeWidth)
                try Self.drain(&inputs, into: &part)
                guard try part.finish() != nil else {
                    intermediates.removeLast()
                    continue
                }
            }
            for source in rest { streams.append(try RewrittenStream(source, rewriter: self, keys: keys, region: region)) }
            if let previous = intermediates.last { streams.append(try RewrittenStream(rewritten: previous, name: run[0].name)) }
            try Self.drain(&streams, into: &writer)
        }
        return try writer.finish()
    }

    /// The common case: files given in key order, each after the one before (a backup's files of
    /// one column family, as the driver sends them), each opened once and read in turn. Nil when
    /// they are not (nothing is left written): the caller merges them.
    private func mergeInOrder(_ sources: [Source], keys: KeyRewriter, into destination: String, region: KeyRange) throws(ImportError) -> InOrder {
        var writer = MergeWriter(destination: destination)
        defer { writer.abandon() }
        var previousLast: [UInt8]?
        for source in sources {
            var streams = [try RewrittenStream(source, rewriter: self, keys: keys, region: region)]
            guard let ends = streams[0].ends else { continue }  // no entries
            if let previousLast, !keyLess(previousLast, ends.first) { return .outOfOrder }
            previousLast = ends.last
            try Self.drain(&streams, into: &writer)
        }
        return .merged(try writer.finish())
    }

    private enum InOrder {
        /// The merged SST's figures; nil when no key fell in the region.
        case merged(Result?)
        case outOfOrder
    }

    /// Writes the streams' keys in order into `writer`, each key once.
    private static func drain(_ streams: inout [RewrittenStream], into writer: inout MergeWriter) throws(ImportError) {
        streams.removeAll { !$0.isValid }
        // One stream (files in key order) is copied straight through.
        if streams.count == 1 { return try streams[0].drain(into: &writer) }
        while let first = streams.indices.min(by: { keyLess(streams[$0].key, streams[$1].key) }) {
            let key = streams[first].key
            try streams[first].write(into: &writer)
            // Every stream at this key moves on: a key is written once.
            for i in streams.indices where streams[i].key == key { try streams[i].advance() }
            streams.removeAll { !$0.isValid }
        }
    }
}

/// The merged SST, created at its first key; removed unless finished.
private struct MergeWriter {
    let destination: String
    var output: SSTWriter?
    var result = SSTRewriter.Result(entries: 0, firstKey: [], lastKey: [], bytes: 0)
    var finished = false

    init(destination: String) {
        self.destination = destination
    }

    mutating func put(_ key: [UInt8], _ value: UnsafeRawBufferPointer) throws(ImportError) {
        do throws(SSTError) {
            let sst: SSTWriter
            if let output { sst = output } else { sst = try SSTWriter(path: destination) }
            output = sst
            try key.withUnsafeBytes { key in Result { () throws(SSTError) in try sst.put(key: key, value: value) } }.get()
        } catch let .outOfOrder(_, _, key) {
            throw .rewrite(name: destination, error: .reordered(key: key))
        } catch {
            throw .io(path: destination, reason: error.description)
        }
        if result.entries == 0 { result.firstKey = Array(key.dropFirst()) }
        result.entries += 1
        if result.entries & 511 == 0 { CrashPoint.rewrite.pass() }
    }

    /// Seals the file; nil when nothing was written (and no file is left).
    mutating func finish() throws(ImportError) -> SSTRewriter.Result? {
        guard let output, result.entries > 0 else { return nil }
        try SSTRewriter.seal(output, into: &result)
        finished = true
        return result
    }

    func abandon() {
        if !finished { unlink(destination) }
    }
}

/// One file's keys that map into a region, rewritten, in order: the current key, and its value
/// (the file's own, read in place, unless the rewrite changes it). An intermediate file of a merge
/// is read as it is: its keys are rewritten already.
struct RewrittenStream {
    let name: String
    let reader: SSTReader
    let cursor: SSTCursor
    var rewriter: KeyRewriter?
    let region: KeyRange
    let stop: [UInt8]?
    let rewriteValues: Bool
    /// The file's first and last data keys; nil for a file with no entries.
    private(set) var ends: (first: [UInt8], last: [UInt8])?
    private(set) var isValid = false
    private(set) var key: [UInt8] = []
    /// The current value, when the rewrite changed it (a write record's start_ts).
    private var rewrittenValue: [UInt8]?

    init(_ source: SSTRewriter.Source, rewriter rules: SSTRewriter, keys: KeyRewriter, region: KeyRange) throws(ImportError) {
        name = source.name
        reader = try source.open()
        cursor = reader.makeCursor()
        do {
            try cursor.seekToLast()
            let last = cursor.isValid ? cursor.key : nil
            try cursor.seekToFirst()
            if let last, cursor.isValid { ends = (cursor.key, last) }
        } catch {
            throw .corruptFile(name: source.name, reason: error.description)
        }
        var rewriter = keys
        // Every key of a file must match a rule, even those outside the region: its ends too.
        if let ends {
            for end in [ends.first, ends.last] {
                do { _ = try rewriter.rewrite(dataKey: end) } catch { throw .rewrite(name: source.name, error: error) }
            }
        }
        self.rewriter = rewriter
        self.region = region
        let (seek, stop) = rules.oldBounds(region)
        self.stop = stop
        rewriteValues = rules.cf == .write && rules.rules.rules.contains { $0.newTimestamp != 0 }
        do { try cursor.seek(DataKey.make(seek)) } catch { throw .corruptFile(name: source.name, reason: error.description) }
        try settle()
    }

    init(rewritten path: String, name: String) throws(ImportError) {
        self.name = name
        do { reader = try SSTReader(path: path) } catch { throw .io(path: path, reason: error.description) }
        rewriter = nil
        region = KeyRange(start: [], end: [])
        stop = nil
        rewriteValues = false
        cursor = reader.makeCursor()
        do { try cursor.seekToFirst() } catch { throw .io(path: path, reason: error.description) }
        try settle()
    }

    /// Puts the current key and value into `writer`.
    fileprivate func write(into writer: inout MergeWriter) throws(ImportError) {
        if let rewrittenValue {
            try rewrittenValue.withUnsafeBytes { value in Result { () throws(ImportError) in try writer.put(key, value) } }.get()
        } else {
            try writer.put(key, cursor.valueBytes)
        }
    }

    /// Writes this stream's keys from the current one on into `writer`.
    fileprivate mutating func drain(into writer: inout MergeWriter) throws(ImportError) {
        while isValid {
            try write(into: &writer)
            try advance()
        }
    }

    mutating func advance() throws(ImportError) {
        do { try cursor.next() } catch { throw .corruptFile(name: name, reason: error.description) }
        try settle()
    }

    /// Moves to the next key that falls in the region (the cursor's, or one after it).
    private mutating func settle() throws(ImportError) {
        rewrittenValue = nil
        do {
            while cursor.isValid {
                let dataKey = cursor.keyBytes
                guard rewriter != nil else {
                    key = Array(dataKey)
                    isValid = true
                    return
                }
                if let stop, compareKeys(UnsafeRawBufferPointer(rebasing: dataKey.dropFirst()), stop) >= 0 { break }
                // Changed in place: a copy out and back cost its rules' reference counts per key.
                let newTimestamp = try rewriter!.rewrite(dataKey: dataKey, into: &key)
                if SSTRewriter.inRegion(key, region) {
                    if rewriteValues, newTimestamp != 0 {
                        var value: [UInt8] = []
                        try WriteRecord.replacingStartTS(in: cursor.valueBytes, with: newTimestamp, into: &value)
                        rewrittenValue = value
                    }
                    isValid = true
                    return
                }
                try cursor.next()
            }
        } catch let e as RewriteError {
            throw .rewrite(name: name, error: e)
        } catch let e as WriteRecordError {
            throw .corruptFile(name: name, reason: "write record: \(e)")
        } catch {
            throw .corruptFile(name: name, reason: "\(error)")
        }
        isValid = false
    }
}
