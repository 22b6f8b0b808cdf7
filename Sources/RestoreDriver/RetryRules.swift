import ClusterAPI

/// The step of the protocol that failed.
public enum RestoreStep: String, Sendable {
    case download, ingest
}

/// What the driver does after a failed step.
public enum RetryAction: Equatable, Sendable {
    /// Try the same step again after `after`; `counts` says whether it uses up an attempt.
    case retry(after: Duration, counts: Bool)
    /// Ingest again, on `leader` (NotLeader named it), or on the leader PD knows, after `after`.
    case retryOnLeader(PeerMeta?, after: Duration)
    /// The region's epoch or range changed: re-read it, and restore the piece into the regions
    /// that now hold it.
    case refreshRegion
    /// Start the piece over: download to every live peer (a new leader never got the file), then ingest.
    case downloadAgain
    /// The ingest was applied already.
    case done
    /// Give up on the region: it waits, Failed, for the operator.
    case fail(String)
}

/// The rules from a failed step's error to what the driver does next, apart from the code that
/// acts, as BR's backoffer (`utils/backoff.go`): downloads get 8 attempts from 1 s to 4 s, ingests 16
/// from 40 ms to 10 s; NotLeader follows the leader the error names; EpochNotMatch,
/// RegionNotFound and KeyNotInRegion re-scan the regions; ServerIsBusy waits the backoff it names;
/// StaleCommand is done; an error that is not retryable fails the region at once.
public struct RetryRules: Sendable, Equatable {
    public var download: RetryPolicy
    public var ingest: RetryPolicy

    public init(download: RetryPolicy, ingest: RetryPolicy) {
        self.download = download
        self.ingest = ingest
    }

    /// `attempt`: the failures of this step so far, this one included (1-based).
    public func action(after error: ImportError, in step: RestoreStep, attempt: Int) -> RetryAction {
        switch step {
        case .download: downloadAction(error, attempt: attempt)
        case .ingest: ingestAction(error, attempt: attempt)
        }
    }

    private func downloadAction(_ error: ImportError, attempt: Int) -> RetryAction {
        switch error {
        case .region(.epochNotMatch), .region(.regionNotFound), .region(.keyNotInRegion):
            return .refreshRegion
        case let .region(.serverIsBusy(_, _, backoff)):
            // The store's own backoff, never zero, and not counted: a busy store is no failure.
            return .retry(after: max(.milliseconds(Int64(backoff)), ingest.initialBackoff), counts: false)
        case .region(.storeNotAvailable(_, .down)):
            // A peer's store that does not answer: the piece waits for it (or for PD to move the
            // peer), within the region's deadline; no ingest goes ahead without it.
            return .retry(after: download.initialBackoff, counts: false)
        default:
            guard error.isRetryable else { return .fail(error.description) }
            guard attempt < download.attempts else { return .fail("download failed \(attempt)/\(download.attempts): \(error)") }
            return .retry(after: download.backoff(attempt: attempt), counts: true)
        }
    }

    private func ingestAction(_ error: ImportError, attempt: Int) -> RetryAction {
        // Answers that end the step whatever the budget.
        switch error {
        case .region(.epochNotMatch), .region(.keyNotInRegion): return .refreshRegion
        case .region(.staleCommand): return .done
        case .fileNotDownloaded: return .downloadAgain
        default: break
        }
        guard error.isRetryable || error.isStorePanic else { return .fail(error.description) }
        guard attempt < ingest.attempts else { return .fail("ingest failed \(attempt)/\(ingest.attempts): \(error)") }
        switch error {
        case let .region(.notLeader(_, leader)):
            return .retryOnLeader(leader, after: leader == nil ? ingest.backoff(attempt: attempt) : .zero)
        case let .region(.serverIsBusy(_, _, backoff)):
            // At least the policy's backoff, so that a busy store cannot burn the budget at once.
            return .retry(after: max(.milliseconds(Int64(backoff)), ingest.backoff(attempt: attempt)), counts: true)
        case .storePanicked:
            return .retryOnLeader(nil, after: .zero)  // the region elects another leader
        case .remote(_, _, true):
            // A call over the wire that failed or timed out, or an answer the client cannot map:
            // ask again, through the leader as PD sees it then.
            return .retryOnLeader(nil, after: ingest.backoff(attempt: attempt))
        case .region:
            return .retryOnLeader(nil, after: ingest.backoff(attempt: attempt))
        default:
            return .fail(error.description)
        }
    }
}

extension ImportError {
    var isStorePanic: Bool { if case .storePanicked = self { true } else { false } }
}
