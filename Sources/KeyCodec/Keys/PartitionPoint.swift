extension RandomAccessCollection where Index == Int {
    /// The first index whose element `belongsBefore` is false for, in a collection where every
    /// element it is true for comes first (keys sorted, and "starts at or before `key`"): a binary
    /// search. Inlinable, so the per-row searches (the checksum's) stay specialized.
    @inlinable
    public func partitionPoint(_ belongsBefore: (Element) throws -> Bool) rethrows -> Int {
        var (low, high) = (startIndex, endIndex)
        while low < high {
            let mid = low + (high - low) / 2
            if try belongsBefore(self[mid]) { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
