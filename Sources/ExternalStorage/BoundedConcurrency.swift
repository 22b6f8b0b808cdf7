/// Work over many items, a few at a time.
public enum BoundedConcurrency {
    /// `body` for each of `items`, up to `width` at a time; the results in the order they end.
    public static func map<Item: Sendable, Output: Sendable>(
        _ items: [Item], width: Int = 64, _ body: @escaping @Sendable (Item) async -> Output
    ) async -> [Output] {
        await withTaskGroup(of: Output.self) { group in
            var rest = items.makeIterator()
            for _ in 0..<width {
                guard let item = rest.next() else { break }
                group.addTask { await body(item) }
            }
            var outputs: [Output] = []
            for await output in group {
                outputs.append(output)
                if let item = rest.next() { group.addTask { await body(item) } }
            }
            return outputs
        }
    }
}
