/// A schedule config value as PD's HTTP API has it (`/pd/api/v1/config/schedule`): a number or a
/// string (PD writes its booleans as strings, `json:",string"`). The client and `cluster serve`
/// read and write it alike.
public enum ScheduleValue: Codable, Equatable, Sendable, CustomStringConvertible {
    case int(Int64)
    case number(Double)
    case string(String)

    public var number: Double? {
        switch self {
        case let .int(value): Double(value)
        case let .number(value): value
        case .string: nil
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(Bool.self) {
            self = .string(value ? "true" : "false")
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case let .int(value): try container.encode(value)
        case let .number(value):
            // A whole number goes as one, as PD wrote it.
            if value == value.rounded(), abs(value) < 1e15 { try container.encode(Int64(value)) } else { try container.encode(value) }
        case let .string(value): try container.encode(value)
        }
    }

    public var description: String {
        switch self {
        case let .int(value): "\(value)"
        case let .number(value): "\(value)"
        case let .string(value): value
        }
    }
}
