import Foundation
import Synchronization
import ExternalStorage
import KVWire

/// PD's schedulers that move leaders and peers, and the schedule limits that merge and move
/// regions, paused for a restore and set back after it, as BR v8 does it through PD's HTTP API
/// (tidb br/pkg/pdutil/pd.go: `Schedulers`, `expectPDCfgGenerators`, `RemoveSchedulersWithOrigin`,
/// `pauseSchedulersAndConfigWith`, `restoreSchedulers`). Each pause lasts 5 minutes and is
/// renewed every 100 s, so that PD resumes everything by itself if the client dies. What is paused, and the values it had, are
/// recorded in the state directory before anything is changed: a run after one that was killed
/// says so and sets back the recorded values, not the paused ones it would read.
final class SchedulePause: Sendable {
    /// The schedulers BR pauses (pd.go `Schedulers`), those of them that PD runs.
    static let schedulers: Set<String> = [
        "balance-leader-scheduler", "balance-hot-region-scheduler", "balance-region-scheduler",
        "shuffle-leader-scheduler", "shuffle-region-scheduler", "shuffle-hot-region-scheduler", "evict-slow-store-scheduler",
    ]
    /// How long each pause lasts at PD (pd.go `pauseTimeout`), renewed every third of it.
    static let pauseSeconds = 300

    /// What a restore pauses and what it sets back: BR's `ClusterConfig`, in its JSON shape.
    struct Record: Codable, Equatable {
        var schedulers: [String]
        var scheduleConfig: [String: ScheduleValue]

        enum CodingKeys: String, CodingKey {
            case schedulers
            case scheduleConfig = "schedule_cfg"
        }
    }

    private let api: PDHTTP
    private let recordPath: String
    private let record: Record
    private let renewal = Mutex<Task<Void, Never>?>(nil)

    private init(api: PDHTTP, recordPath: String, record: Record) {
        self.api = api
        self.recordPath = recordPath
        self.record = record
    }

    /// The values the restore sets (pd.go `expectPDCfgGenerators`): no merging, limits times the
    /// stores (at most 40), no location replacement, pending peers unlimited.
    static func pausedValue(_ key: String, current: ScheduleValue, stores: Int) -> ScheduleValue? {
        switch key {
        case "merge-schedule-limit": return .int(0)
        case "leader-schedule-limit", "region-schedule-limit", "max-snapshot-count":
            guard let value = current.number else { return nil }
            return .number(min(40, value * Double(stores)))
        case "enable-location-replacement": return .string("false")
        case "max-pending-peer-count": return .int(Int64(Int32.max))
        default: return nil
        }
    }

    static let configKeys = ["merge-schedule-limit", "leader-schedule-limit", "region-schedule-limit", "max-snapshot-count", "enable-location-replacement", "max-pending-peer-count"]

    /// The schedulers of BR's list that PD says are paused now (`GET /schedulers?status=paused`).
    static func pausedNow(_ api: PDHTTP) async throws(WireError) -> [String] {
        try await api.json([String].self, .get, "schedulers?status=paused").filter(schedulers.contains).sorted()
    }

    /// Pauses the schedulers and sets the config; returns the pause and what the operator should
    /// know (a pause left by an earlier run, what was paused).
    static func begin(_ api: PDHTTP, stores: Int, recordPath: String) async throws(WireError) -> (SchedulePause, [String]) {
        var notices: [String] = []
        let earlier = FileManager.default.contents(atPath: recordPath).flatMap { try? JSONDecoder().decode(Record.self, from: $0) }
        let running = try await api.json([String].self, .get, "schedulers").filter(schedulers.contains)
        let leftover = try await pausedNow(api)
        let config = try await api.json([String: ScheduleValue].self, .get, "config/schedule")
        if let earlier {
            notices.append("an earlier restore paused PD's \(earlier.schedulers.joined(separator: ", ")) and set its schedule config, and did not set them back (it was killed): this one sets back what that one recorded, \(recordPath)")
        } else if !leftover.isEmpty {
            notices.append("PD's \(leftover.joined(separator: ", ")) are paused already (by another tool, or a restore that left no record): this restore resumes them when it ends")
        }
        var record = earlier ?? Record(schedulers: [], scheduleConfig: [:])
        record.schedulers = Array(Set(record.schedulers).union(running)).sorted()
        for key in configKeys where record.scheduleConfig[key] == nil { record.scheduleConfig[key] = config[key] }
        do { try DurableFile.replace(recordPath, with: Array(try JSONEncoder().encode(record))) } catch {
            throw .usage("cannot record PD's schedule in \(recordPath): \(error)")
        }
        let pause = SchedulePause(api: api, recordPath: recordPath, record: record)
        do { try await pause.apply(stores: stores) } catch {
            _ = await pause.end()  // what PD took before the failure goes back
            throw error
        }
        pause.renewal.withLock { task in
            task = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(pauseSeconds / 3))
                    guard !Task.isCancelled else { return }
                    try? await pause.apply(stores: stores)
                }
            }
        }
        notices.append("paused PD's \(record.schedulers.isEmpty ? "(no balance schedulers)" : record.schedulers.joined(separator: ", ")) and set its schedule config for the restore (each for \(pauseSeconds) s, renewed)")
        return (pause, notices)
    }

    /// Pauses every recorded scheduler and sets the paused config, each for `pauseSeconds`.
    private func apply(stores: Int) async throws(WireError) {
        let delay = Array("{\"delay\":\(Self.pauseSeconds)}".utf8)
        for scheduler in record.schedulers { try await api.send(.post, "schedulers/\(scheduler)", body: delay) }
        var values: [String: ScheduleValue] = [:]
        for (key, current) in record.scheduleConfig {
            if let value = Self.pausedValue(key, current: current, stores: stores) { values["schedule.\(key)"] = value }
        }
        try await api.send(.post, "config?ttlSecond=\(Self.pauseSeconds)", body: Array((try? JSONEncoder().encode(values)) ?? Data()))
    }

    /// Resumes the schedulers and sets the config back (a TTL of 0 drops the paused values);
    /// the record goes once PD took all of it. Returns what could not be set back.
    func end() async -> [String] {
        let task = renewal.withLock { task in
            defer { task = nil }
            return task
        }
        task?.cancel()
        await task?.value
        var failures: [String] = []
        for scheduler in record.schedulers {
            do { try await api.send(.post, "schedulers/\(scheduler)", body: Array("{\"delay\":0}".utf8)) } catch { failures.append("\(scheduler): \(error)") }
        }
        let original = Dictionary(uniqueKeysWithValues: record.scheduleConfig.map { ("schedule.\($0.key)", $0.value) })
        do { try await api.send(.post, "config?ttlSecond=0", body: Array((try? JSONEncoder().encode(original)) ?? Data())) } catch {
            failures.append("schedule config: \(error)")
        }
        if failures.isEmpty { try? FileManager.default.removeItem(atPath: recordPath) }
        return failures
    }
}

/// PD's HTTP API (`/pd/api/v1/...`) on the members' client URLs, the leader first: https with
/// this client's certificate in a TLS cluster, as BR's `pdRequest` (br/pkg/pdutil/pd.go) sends it.
struct PDHTTP: Sendable {
    let addresses: @Sendable () -> [WireAddress]
    let settings: TransferSettings
    let scheme: String

    init(addresses: @escaping @Sendable () -> [WireAddress], security: WireSecurity?) {
        self.addresses = addresses
        var settings = TransferSettings()
        if let security {
            settings.caFile = security.caPath
            settings.clientIdentity = ClientIdentity(certificatePath: security.certificatePath, keyPath: security.keyPath)
        }
        self.settings = settings
        scheme = security == nil ? "http" : "https"
    }

    /// Sends to each member in turn until one answers; a status other than 2xx is an error that
    /// quotes PD's message.
    @discardableResult
    func send(_ method: HTTPExchange.Method, _ path: String, body: [UInt8]? = nil) async throws(WireError) -> [UInt8] {
        var failures: [String] = []
        for address in addresses() {
            let url = "\(scheme)://\(address)/pd/api/v1/\(path)"
            do {
                let reply = try await HTTPExchange.send(method, url, json: body, settings: settings)
                guard reply.isSuccess else {
                    throw WireError.protocolError(what: "PD's HTTP API, \(method.rawValue) \(url)", reason: "HTTP \(reply.status): \(reply.text.prefix(300))")
                }
                return reply.body
            } catch let failure as HTTPExchange.Failure {
                failures.append(failure.description)
            } catch let error as WireError {
                throw error
            } catch {
                failures.append("\(error)")
            }
        }
        throw .unreachable(what: "PD's HTTP API", address: addresses().map(\.description).joined(separator: ","), reason: failures.joined(separator: "; "))
    }

    func json<T: Decodable>(_ type: T.Type, _ method: HTTPExchange.Method, _ path: String) async throws(WireError) -> T {
        let body = try await send(method, path)
        do { return try JSONDecoder().decode(T.self, from: Data(body)) } catch {
            throw .protocolError(what: "PD's HTTP API, \(path)", reason: "unexpected answer \(String(decoding: body.prefix(200), as: UTF8.self))")
        }
    }
}
