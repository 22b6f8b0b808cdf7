import ArgumentParser
import Foundation
import ExternalStorage
import ClusterAPI
import EmbeddedCluster
import RemoteCluster
import RestoreDriver
import KVWire

/// Where a restore goes: an embedded cluster in a directory, or a TiKV cluster through its PD.
enum RestoreDestination {
    case embedded(Cluster)
    case remote(RemoteCluster, stateDirectory: String)

    var client: any ClusterClient {
        switch self {
        case let .embedded(cluster): cluster
        case let .remote(cluster, _): cluster
        }
    }

    /// Where the checkpoint lives.
    var stateDirectory: String {
        switch self {
        case let .embedded(cluster): cluster.directory
        case let .remote(_, directory): directory
        }
    }

    func close() async {
        switch self {
        case let .embedded(cluster): await cluster.close()
        case let .remote(cluster, _): await cluster.close()
        }
    }

    /// Sets back what the restore changed on a TiKV cluster (import mode, speed limit, PD's
    /// schedulers), for a process that ends with work in flight. An embedded cluster's stores
    /// end with the process.
    func setBack() async {
        guard case let .remote(cluster, _) = self else { return }
        for notice in await cluster.setBack() { FileHandle.standardError.write(Data("warning: \(notice)\n".utf8)) }
    }

    /// Opens (or creates) an embedded cluster with a table cache per store that the open-files
    /// limit allows beside the restore's downloads and ingests; refuses a limit too low for them,
    /// naming both.
    static func openEmbedded(_ arguments: RestoreArguments, options: RestoreOptions) async throws -> Cluster {
        let budget = openFileBudget(arguments, options: options)
        do { try budget.check() } catch { throw StartFailure(error.description) }
        guard let directory = arguments.cluster else { throw ValidationError("--cluster is needed") }
        do {
            return try await Cluster.open(directory: directory, create: .init(stores: arguments.stores, replicas: arguments.replicas), maxOpenFilesPerStore: budget.perStore)
        } catch {
            throw StartFailure(error.description)
        }
    }

    /// The open-files budget of an embedded cluster: the process's limit (raised to the hard one)
    /// against the stores, downloads and ingests that the arguments ask for.
    static func openFileBudget(_ arguments: RestoreArguments, options: RestoreOptions) -> OpenFileBudget {
        OpenFileBudget(
            limit: OpenFileBudget.raiseProcessLimit(), stores: arguments.stores, downloadsPerStore: options.downloadsPerStore,
            concurrentIngests: options.concurrentIngests)
    }

    /// The engine that restores into this destination; `inputs`, when the backup was read already.
    func prepareEngine(storage: any ExternalStorage, options: RestoreOptions, insecureTLS: Bool, inputs: RestoreInputs? = nil) async throws -> RestoreEngine {
        do {
            if let inputs {
                return try await RestoreEngine.prepare(inputs, storage: storage, cluster: client, stateDirectory: stateDirectory, options: options, insecureTLS: insecureTLS)
            }
            return try await RestoreEngine.prepare(storage: storage, cluster: client, stateDirectory: stateDirectory, options: options, insecureTLS: insecureTLS)
        } catch {
            await close()
            throw StartFailure(error.description)
        }
    }
}

/// The cluster that the arguments name, looked at before anything is written: a read-only survey
/// of an embedded cluster's directory, or a TiKV cluster's PD (connected, its state directory not
/// yet claimed). The plan and the prechecks read it; `open` then opens the cluster to restore.
struct DestinationSurvey {
    let stateDirectory: String
    /// Checks that only this layer can make: the open-files budget of an embedded cluster.
    let checks: [RestorePreview.Check]
    private let source: Source

    private enum Source {
        case embedded(ClusterDirectorySurvey)
        case remote(RemoteCluster, pd: [WireAddress])
    }

    var survey: any ClusterSurvey {
        switch source {
        case let .embedded(survey): survey
        case let .remote(cluster, _): cluster
        }
    }

    /// Over the wire, the backup must be somewhere each store can fetch it from itself.
    static func survey(_ arguments: RestoreArguments, options: RestoreOptions, storage: any ExternalStorage) async throws -> DestinationSurvey {
        guard let pd = arguments.pd else {
            guard let directory = arguments.cluster else { throw ValidationError("--cluster is needed") }
            let survey: ClusterDirectorySurvey
            do { survey = try ClusterDirectorySurvey(directory: directory, create: .init(stores: arguments.stores, replicas: arguments.replicas)) } catch {
                throw StartFailure(error.description)
            }
            return DestinationSurvey(stateDirectory: survey.location, checks: [openFilesCheck(arguments, options: options)], source: .embedded(survey))
        }
        do { _ = try WireStorage.backend(for: storage) } catch { throw StartFailure(error.description) }
        let address: [WireAddress]
        do { address = try pd.split(separator: ",").map { (text: Substring) throws(WireError) in try WireAddress(parsing: String(text)) } } catch { throw ValidationError("--pd: \(error)") }
        guard !address.isEmpty else { throw ValidationError("--pd: no address") }
        let cluster: RemoteCluster
        do { cluster = try await RemoteCluster.connect(pd: address, security: try arguments.tls.security, timeouts: arguments.wireTimeouts) } catch let error as WireError {
            throw StartFailure(error.description)
        }
        do { try await checkCredentialExposure(arguments, storage: storage, cluster: cluster, pd: address) } catch {
            await cluster.close()
            throw error
        }
        let home = ProcessInfo.processInfo.environment["HOME"] ?? FileManager.default.currentDirectoryPath
        let directory = arguments.stateDirectory ?? "\(home)/.local/state/restore-console/\(cluster.clusterID)"
        // Each TiKV budgets its own files; this client holds a connection per store and little else.
        let files = RestorePreview.Check(name: "open-files", status: .passed, message: "the stores budget their own; this client needs a few")
        let schedulers = await schedulersCheck(arguments, cluster: cluster, stateDirectory: directory)
        return DestinationSurvey(stateDirectory: directory, checks: [files, schedulers], source: .remote(cluster, pd: address))
    }

    /// PD's HTTP API answers, so that its balance schedulers can be paused for the restore; and
    /// whether some are paused already (an earlier restore that was killed, or another tool).
    private static func schedulersCheck(_ arguments: RestoreArguments, cluster: RemoteCluster, stateDirectory: String) async -> RestorePreview.Check {
        let name = "pd-schedulers"
        if arguments.keepSchedulers { return .init(name: name, status: .skipped, message: "--keep-schedulers: PD's balance schedulers run during the restore") }
        let paused: [String]
        do { paused = try await cluster.pausedSchedulers() } catch {
            return .init(name: name, status: .failed, message: "\(error) (--keep-schedulers restores without pausing them)")
        }
        var message = "PD's balance schedulers are paused for the restore and resumed after it"
        if FileManager.default.fileExists(atPath: RemoteState.schedulePauseRecord(in: stateDirectory)) {
            message += "; an earlier restore that was killed left them paused, and its record of their values is used"
        } else if !paused.isEmpty {
            message += "; paused now: \(paused.joined(separator: ", "))"
        }
        return .init(name: name, status: .passed, message: message)
    }

    /// Every Download carries the S3 credentials: in plaintext only to this machine, or when told.
    private static func checkCredentialExposure(
        _ arguments: RestoreArguments, storage: any ExternalStorage, cluster: RemoteCluster, pd: [WireAddress]
    ) async throws {
        guard try arguments.tls.security == nil, WireStorage.carriesCredentials(storage) else { return }
        let stores = await cluster.stores().compactMap { try? WireAddress(parsing: $0.address).host }
        guard let remote = (pd.map(\.host) + stores).first(where: { !WireAddress.isLoopback($0) }) else { return }
        guard arguments.insecure else {
            throw StartFailure("the S3 credentials would go in plaintext to \(remote): give --ca, --cert and --key, or --insecure to send them anyway")
        }
        FileHandle.standardError.write(Data("warning: --insecure: the S3 credentials go in plaintext to \(remote) and the other stores\n".utf8))
    }

    /// The open-files limit against what the stores, downloads and ingests need.
    private static func openFilesCheck(_ arguments: RestoreArguments, options: RestoreOptions) -> RestorePreview.Check {
        let budget = RestoreDestination.openFileBudget(arguments, options: options)
        do { try budget.check() } catch { return .init(name: "open-files", status: .failed, message: error.description) }
        return .init(name: "open-files", status: .passed, message: "limit \(budget.limit), needs \(budget.needed); \(budget.perStore) table files per store")
    }

    /// Opens the cluster to restore into. A checkpoint made against another cluster is refused.
    /// `pauseSchedulers`: a TiKV cluster's PD stops balancing until the target is closed or set back.
    func open(_ arguments: RestoreArguments, options: RestoreOptions, pauseSchedulers: Bool = false) async throws -> RestoreDestination {
        switch source {
        case let .embedded(survey):
            survey.close()
            return .embedded(try await RestoreDestination.openEmbedded(arguments, options: options))
        case let .remote(cluster, pd):
            do {
                try RemoteState.claim(stateDirectory, clusterID: cluster.clusterID, pd: pd.map(\.description).joined(separator: ","))
            } catch {
                await cluster.close()
                throw StartFailure("\(error)")
            }
            if pauseSchedulers {
                do {
                    for notice in try await cluster.pauseSchedulers(recordAt: RemoteState.schedulePauseRecord(in: stateDirectory)) {
                        FileHandle.standardError.write(Data("pd: \(notice)\n".utf8))
                    }
                } catch {
                    await cluster.close()
                    throw StartFailure("cannot pause PD's schedulers: \(error) (--keep-schedulers restores without pausing them)")
                }
            }
            return .remote(cluster, stateDirectory: stateDirectory)
        }
    }

    /// Lets go of what the survey holds, when no restore follows.
    func close() async {
        switch source {
        case let .embedded(survey): survey.close()
        case let .remote(cluster, _): await cluster.close()
        }
    }
}

/// A remote restore's state directory belongs to one cluster: it records the cluster id of the
/// first run, and a resume against another cluster is refused before anything is sent.
enum RemoteState {
    struct Mismatch: Error, CustomStringConvertible {
        var directory: String
        var recorded: String
        var found: UInt64
        var pd: String
        var description: String {
            "\(directory) holds the checkpoint of cluster \(recorded), but PD at \(pd) serves cluster \(found); use another --state-dir"
        }
    }

    /// What a restore paused at PD and the values it set back, while the restore lasts.
    static func schedulePauseRecord(in directory: String) -> String { directory + "/pd-schedule-pause.json" }

    static func claim(_ directory: String, clusterID: UInt64, pd: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/cluster-id"
        if let recorded = FileManager.default.contents(atPath: path).map({ String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }) {
            guard recorded == String(clusterID) else { throw Mismatch(directory: directory, recorded: recorded, found: clusterID, pd: pd) }
            return
        }
        try Data("\(clusterID)\n".utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
