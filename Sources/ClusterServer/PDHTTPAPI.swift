import Foundation
import Synchronization
import KVWire

/// The part of PD's HTTP API (`/pd/api/v1/...`, on PD's client port beside gRPC) that a restore
/// uses: listing and pausing schedulers, and reading and changing the schedule config for a while.
/// Shapes as tikv/pd serves them: server/api/scheduler.go (`GET /schedulers[?status=paused]`, a
/// JSON array of names; `POST /schedulers/{name}` with `{"delay": seconds}`, 0 resuming),
/// server/api/config.go (`GET /config/schedule`, an object; `POST /config[?ttlSecond=N]` with
/// `schedule.`-prefixed keys, a TTL of 0 dropping the temporary values) and server/api/version.go.
/// The schedulers are the embedded PD's own: `balance-leader-scheduler` moves leaders while it
/// runs (`ClusterServer`'s balance loop), and a paused one does nothing until its pause ends.
public final class ServedSchedule: Sendable {
    /// PD's default schedulers (tikv/pd pkg/schedule/config/config.go `DefaultSchedulers`).
    static let defaultSchedulers = ["balance-region-scheduler", "balance-leader-scheduler", "balance-hot-region-scheduler", "evict-slow-store-scheduler"]
    /// The schedule config a restore reads and changes, with PD v8.5's defaults
    /// (tikv/pd pkg/schedule/config/config.go). Booleans are JSON strings, as PD tags them.
    static let defaultConfig: [String: ScheduleValue] = [
        "max-merge-region-keys": .int(540_000), "max-merge-region-size": .int(54), "merge-schedule-limit": .int(8), "leader-schedule-limit": .int(4),
        "region-schedule-limit": .int(2_048), "max-snapshot-count": .int(64), "max-pending-peer-count": .int(64),
        "enable-location-replacement": .string("true"), "split-merge-interval": .string("1h0m0s"),
    ]

    private struct State {
        var pausedUntil: [String: ContinuousClock.Instant] = [:]
        var config = ServedSchedule.defaultConfig
        /// Values set with a TTL, and when each lapses.
        var temporary: [String: (value: ScheduleValue, until: ContinuousClock.Instant)] = [:]
        /// Every change, in order, for the log and the tests.
        var changes: [String] = []
    }

    private let state = Mutex(State())
    private let version: String
    /// Each change is said here too (cluster serve's stderr).
    private let log: (@Sendable (String) -> Void)?

    init(version: String, log: (@Sendable (String) -> Void)? = nil) {
        self.version = version
        self.log = log
    }

    /// Whether `scheduler` runs now: it exists and no pause lasts.
    public func isRunning(_ scheduler: String, now: ContinuousClock.Instant = .now) -> Bool {
        state.withLock { s in s.pausedUntil[scheduler].map { $0 <= now } ?? Self.defaultSchedulers.contains(scheduler) }
    }

    /// The paused schedulers, by name.
    public func paused(now: ContinuousClock.Instant = .now) -> [String] {
        state.withLock { s in Self.defaultSchedulers.filter { s.pausedUntil[$0].map { $0 > now } ?? false } }
    }

    /// The config in effect: the temporary values that have not lapsed over the stored ones.
    public func effectiveConfig(now: ContinuousClock.Instant = .now) -> [String: ScheduleValue] {
        state.withLock { s in s.config.merging(s.temporary.filter { $0.value.until > now }.mapValues(\.value)) { _, temporary in temporary } }
    }

    /// Every pause, resume and config change so far.
    public var changes: [String] { state.withLock { $0.changes } }

    private func record(_ change: String) {
        state.withLock { $0.changes.append(change) }
        log?("pd: \(change)")
    }

    // MARK: the HTTP API

    struct Answer {
        var status: Int
        var json: [UInt8]
    }

    /// Answers one request: `path` without the query, `query` its parameters.
    func answer(method: String, path: String, query: [String: String], body: [UInt8]) -> Answer {
        let parts = path.split(separator: "/").map(String.init)
        guard parts.count >= 3, parts[0] == "pd", parts[1] == "api", parts[2] == "v1" else { return Self.error(404, "no such path: \(path)") }
        switch (method, Array(parts.dropFirst(3))) {
        case ("GET", ["version"]): return Self.json(["version": "v\(version)"])
        case ("GET", ["config", "cluster-version"]): return Self.json(version)
        case ("GET", ["schedulers"]):
            return Self.json(query["status"] == "paused" ? paused() : Self.defaultSchedulers)
        case let ("POST", route) where route.count == 2 && route[0] == "schedulers":
            return pause(route[1], body: body)
        case ("GET", ["config", "schedule"]):
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return Answer(status: 200, json: Array((try? encoder.encode(effectiveConfig())) ?? Data("{}".utf8)))
        case ("POST", ["config"]):
            return setConfig(body: body, ttl: query["ttlSecond"])
        default:
            return Self.error(404, "no such path: \(method) \(path)")
        }
    }

    /// `{"delay": seconds}`: paused that long; 0 resumes (server/api/scheduler.go `PauseOrResumeScheduler`).
    private func pause(_ name: String, body: [UInt8]) -> Answer {
        guard Self.defaultSchedulers.contains(name) else { return Self.error(500, "scheduler not found") }
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any], let delay = (object["delay"] as? NSNumber)?.int64Value, delay >= 0 else {
            return Self.error(400, "the body must be {\"delay\": seconds}")
        }
        state.withLock { s in
            if delay == 0 { s.pausedUntil[name] = nil } else { s.pausedUntil[name] = .now + .seconds(delay) }
        }
        record(delay == 0 ? "resumed \(name)" : "paused \(name) for \(delay) s")
        return Self.json("Pause or resume the scheduler successfully.")
    }

    /// `schedule.`-prefixed keys; with `ttlSecond` the values last that long (0: dropped now).
    private func setConfig(body: [UInt8], ttl: String?) -> Answer {
        guard let object = try? JSONDecoder().decode([String: ScheduleValue].self, from: Data(body)) else {
            return Self.error(400, "the body must be a JSON object of config items, each a number or a string")
        }
        var values: [String: ScheduleValue] = [:]
        for (key, value) in object {
            guard key.hasPrefix("schedule.") else { return Self.error(400, "config item \(key) not found") }
            let name = String(key.dropFirst("schedule.".count))
            guard Self.defaultConfig[name] != nil else { return Self.error(400, "config item \(key) not found") }
            values[name] = value
        }
        let seconds: Int64?
        if let ttl {
            guard let parsed = Int64(ttl), parsed >= 0 else { return Self.error(400, "ttlSecond must be a number of seconds") }
            seconds = parsed
        } else {
            seconds = nil
        }
        state.withLock { s in
            for (name, value) in values {
                switch seconds {
                case nil: s.config[name] = value
                case 0?: s.temporary[name] = nil
                case let seconds?: s.temporary[name] = (value, .now + .seconds(seconds))
                }
            }
        }
        let listed = values.keys.sorted().map { "\($0)=\(values[$0]!)" }.joined(separator: " ")
        record(seconds == 0 ? "config set back: \(listed)" : "config \(listed)" + (seconds.map { " for \($0) s" } ?? ""))
        return Self.json("The config is updated.")
    }

    static func json(_ object: Any) -> Answer {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])) ?? Data()
        return Answer(status: 200, json: Array(data))
    }

    static func error(_ status: Int, _ message: String) -> Answer {
        var answer = json(message)
        answer.status = status
        return answer
    }
}
