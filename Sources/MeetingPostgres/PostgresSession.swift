import Foundation
import Logging
import MeetingLedger
import PostgresNIO

/// Why the PostgreSQL ledger failed. `unreachable` is the database's absence (refused, restarting, a lost
/// connection): transient, so requests wait in `incoming/` and are retried; the others are not.
public enum PostgresLedgerError: Error, ClassifiedFailure, CustomStringConvertible {
    case badLocation(String)
    case unreachable(String)
    case server(sqlState: String, message: String)
    case schema(String)

    public var isTransient: Bool {
        switch self {
        case .unreachable: return true
        // Out of connections or disk, shutting down, cannot connect now, a read-only server after a failover,
        // a lock or statement timeout, conflicts beyond the retries: the database's state, never one request's.
        case let .server(state, _):
            return ["53", "57", "08", "40"].contains(String(state.prefix(2))) || ["55006", "55P03", "25006"].contains(state)
        case .badLocation, .schema: return false
        }
    }

    /// The connection was lost or never made: whatever was in flight may or may not have reached the server.
    public var isConnectionLoss: Bool {
        if case .unreachable = self { return true }
        return false
    }

    public var sqlState: String? {
        if case let .server(state, _) = self { return state }
        return nil
    }

    public var description: String {
        switch self {
        case let .badLocation(why): return "ledger URL: \(why)"
        case let .unreachable(why): return "the PostgreSQL ledger is unreachable: \(why)"
        case let .server(state, message): return "PostgreSQL: \(message) (SQLSTATE \(state))"
        case let .schema(why): return "the PostgreSQL ledger's schema: \(why)"
        }
    }
}

/// A value bound to a statement's `$n`.
enum SQLValue {
    case text(String?)
    case integer(Int?)
    case real(Double?)
    case bytes([UInt8]?)
    case texts([String])
    case integers([Int])
    case reals([Double])
}

extension SQLValue {
    /// The type a prepared statement declares for this value (`$n::type`), as the unnamed statements' Parse
    /// message declares it; nil for a NULL, which the server types from where it stands, as before.
    var declaredType: String? {
        switch self {
        case let .text(text): return text == nil ? nil : "text"
        case let .integer(number): return number == nil ? nil : "int8"
        case let .real(number): return number == nil ? nil : "float8"
        case let .bytes(bytes): return bytes == nil ? nil : "bytea"
        case .texts: return "text[]"
        case .integers: return "int8[]"
        case .reals: return "float8[]"
        }
    }

    /// The value as bound, in the binary format of `declaredType`; a NULL untyped (type 0), so that an unnamed
    /// statement's Parse leaves its type to the server.
    var bound: PostgresData {
        switch self {
        case let .text(text): return text.map { PostgresData(string: $0) } ?? .untypedNull
        case let .integer(number): return number.map { PostgresData(int64: Int64($0)) } ?? .untypedNull
        case let .real(number): return number.map { PostgresData(double: $0) } ?? .untypedNull
        case let .bytes(bytes): return bytes.map { PostgresData(type: .bytea, value: ByteBuffer(bytes: $0)) } ?? .untypedNull
        case let .texts(texts): return PostgresData(array: texts.map { PostgresData(string: $0) }, elementType: .text)
        case let .integers(numbers): return PostgresData(array: numbers.map { PostgresData(int64: Int64($0)) }, elementType: .int8)
        case let .reals(numbers): return PostgresData(array: numbers.map { PostgresData(double: $0) }, elementType: .float8)
        }
    }
}

private extension PostgresData {
    static let untypedNull = PostgresData(type: .null, value: nil)
}

extension SQLValue {
    /// A cell as bound for one of meetingd's own statements (`Ledger.select`).
    init(_ cell: LedgerCell) {
        switch cell {
        case .null: self = .text(nil)
        case let .integer(number): self = .integer(Int(number))
        case let .real(number): self = .real(number)
        case let .text(text): self = .text(text)
        case let .bytes(bytes): self = .bytes(bytes)
        }
    }
}

/// One connection, used by one thread at a time, blocking that thread on each statement (the pipeline is
/// synchronous and runs on threads of its own, never on an event loop). Every statement has a deadline: a
/// connection that dies unnoticed must not hang a decision forever.
final class PostgresSession: @unchecked Sendable {
    let connection: PostgresConnection
    private let logger: Logger
    /// Statement text with `?` placeholders turned into `$n`, per text (the rules ask a few shapes of query).
    private var numbered: [String: String] = [:]
    static let statementDeadline: TimeAmount = .seconds(30)

    private init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    static func connect(_ location: PostgresLocation, id: Int, logger: Logger) throws -> PostgresSession {
        let configuration = try location.configuration()
        let eventLoop = MultiThreadedEventLoopGroup.singleton.any()
        do {
            let connection = try PostgresConnection.connect(on: eventLoop, configuration: configuration, id: id, logger: logger).wait()
            let session = PostgresSession(connection: connection, logger: logger)
            // A node that stalls inside a transaction (stopped, cut off) must not hold the decision-numbering
            // lock for ever: the server ends its transaction, and a wait for a lock gives up and is retried.
            try session.execute("SET idle_in_transaction_session_timeout = '20s'")
            try session.execute("SET lock_timeout = '10s'")
            try session.execute("SET statement_timeout = '25s'")
            return session
        } catch {
            throw Self.classify(error, during: "connecting to \(location)")
        }
    }

    var isClosed: Bool { connection.isClosed }

    func close() { _ = try? connection.close().wait() }

    deinit { if !connection.isClosed { let _: EventLoopFuture<Void> = connection.close() } }

    /// Runs one statement and waits for its rows; `sql` may use `?` (numbered here) or `$n` placeholders.
    /// Statements sent before it without waiting (`send`) ran before it on the connection: the first of them
    /// that failed is the error thrown.
    @discardableResult
    func rows(_ sql: String, _ values: [SQLValue] = []) throws -> [LedgerRow] {
        let future = try start(sql, values)
        return try inOrder(Result { try waitWithDeadline(future) }, after: takePending()).map(LedgerRow.init)
    }

    /// The rows of a statement sent with `sendForLater`, waited for now, as `rows` waits: the statements sent
    /// before it report first. A decision reads ahead this way (`PostgresDecisionState.readAhead`).
    func rows(of future: EventLoopFuture<[PostgresRow]>) throws -> [LedgerRow] {
        guard let position = pending.firstIndex(where: { $0 === future }) else { return try answer(of: future) }
        let earlier = Array(pending[..<position])
        pending.removeSubrange(...position)
        return try inOrder(Result { try waitWithDeadline(future) }, after: earlier).map(LedgerRow.init)
    }

    /// The statements sent without waiting so far, now to be waited for.
    private func takePending() -> [EventLoopFuture<[PostgresRow]>] {
        defer { pending = [] }
        return pending
    }

    /// A statement's outcome, reported after those sent before it without waiting: a lost connection is given
    /// up without waiting for them (they may never finish); otherwise they have answered already (the
    /// connection runs its statements in order), and the first of them that failed is the error thrown.
    private func inOrder<Value>(_ outcome: Result<Value, any Error>, after earlier: [EventLoopFuture<[PostgresRow]>]) throws -> Value {
        if case let .failure(error) = outcome, case let failure = Self.classify(error, during: nil),
           case PostgresLedgerError.unreachable = failure {
            let _: EventLoopFuture<Void> = connection.close()
            throw failure
        }
        do {
            for statement in earlier { _ = try statement.wait() }
            return try outcome.get()
        } catch {
            throw forgettingLostStatements(Self.classify(error, during: nil))
        }
    }

    func execute(_ sql: String, _ values: [SQLValue] = []) throws { try rows(sql, values) }

    /// Sends a statement without waiting for it: the connection runs it in order, and the next `rows` reports
    /// its failure. A decision's writes go this way, so the deciding thread is woken once per answer it needs,
    /// not once per statement (see docs/performance-history.md).
    func send(_ sql: String, _ values: [SQLValue] = []) throws {
        pending.append(try start(sql, values))
    }

    private var pending: [EventLoopFuture<[PostgresRow]>] = []

    /// Round trips: how many times this connection's thread has waited for answers after sending something.
    /// Answers to statements sent together arrive together: waiting for the second costs nothing more (tests).
    private(set) var roundTrips = 0
    private var sentSinceWait = false

    /// Waits for an answer, at most `statementDeadline`.
    private func waitWithDeadline<Value: Sendable>(_ future: EventLoopFuture<Value>) throws -> Value {
        if sentSinceWait { roundTrips += 1 }
        sentSinceWait = false
        return try Self.waitWithDeadline(future)
    }

    private static func waitWithDeadline<Value: Sendable>(_ future: EventLoopFuture<Value>) throws -> Value {
        let eventLoop = future.eventLoop
        let promise = eventLoop.makePromise(of: Value.self)
        let deadline = eventLoop.scheduleTask(in: statementDeadline) {
            promise.fail(PostgresLedgerError.unreachable("no answer in \(statementDeadline.nanoseconds / 1_000_000_000) s"))
        }
        future.cascade(to: promise)
        defer { deadline.cancel() }
        return try promise.futureResult.wait()
    }

    /// Sends a statement without waiting and keeps its answer, to be read with `answer(of:)` once a later
    /// statement has been waited for (the connection answers in order).
    func sendForLater(_ sql: String, _ values: [SQLValue] = []) throws -> EventLoopFuture<[PostgresRow]> {
        let future = try start(sql, values)
        pending.append(future)
        return future
    }

    /// The rows of a statement sent with `sendForLater`, after a later statement was answered.
    func answer(of future: EventLoopFuture<[PostgresRow]>) throws -> [LedgerRow] {
        do {
            return try future.wait().map(LedgerRow.init)
        } catch {
            throw forgettingLostStatements(Self.classify(error, during: nil))
        }
    }

    /// The first number of meetingd's two-number advisory locks on counted keys (`'meet'`): apart from the
    /// one-number locks it numbers decisions and migrates with.
    static let keyLockSpace = 0x6D65_6574

    /// Locks `keys` (`CountedKeys`) until the transaction ends, in a fixed order, sent without waiting: the
    /// statement after it runs once they are held. Exclusive for a decision that reads what the keys count;
    /// shared for one that writes a meeting counted by them.
    /// `first` are locked before the others, in their order: `unnest` gives the array's elements in order, and
    /// each lock is taken as its row is made.
    func lockKeys(_ keys: [String], shared: Bool, first: [String] = []) throws {
        try send("SELECT pg_advisory_xact_lock\(shared ? "_shared" : "")(\(Self.keyLockSpace), hashtext(k)) FROM unnest($1::text[]) AS k",
                 [.texts(first + keys.sorted())])
    }

    /// The feeds of meetings whose standing the transaction in progress read (one round trip less for the
    /// decision that records them); emptied when a transaction begins.
    var feedKeysRead: [String: String] = [:]
    /// Meetings whose standing the transaction in progress read and found no row of (in a decision, with their
    /// id locked): a first approval has no counted rows to delete first (one statement less); emptied when a
    /// transaction begins.
    var meetingsAbsent: Set<String> = []

    private func start(_ sql: String, _ values: [SQLValue]) throws -> EventLoopFuture<[PostgresRow]> {
        guard !connection.isClosed else { throw PostgresLedgerError.unreachable("the connection was closed") }
        sentSinceWait = true
        let text = numberedText(sql)
        let bound = values.map(\.bound)
        if let statement = try preparedStatement(text, values) {
            return statement.execute(bound)
        }
        var bindings = PostgresBindings(capacity: values.count)
        for value in bound { bindings.append(value) }
        return connection.query(PostgresQuery(unsafeSQL: text, binds: bindings), logger: logger).map(\.rows)
    }

    // MARK: Prepared statements

    /// A statement with values, by its text and the types of its values (a NULL leaves its place untyped, so
    /// the same text with a NULL elsewhere is another statement).
    private struct PreparedKey: Hashable {
        let text: String
        let types: [String?]
    }

    /// Statements prepared on this connection. The server parses, analyses and plans an unnamed statement
    /// each time it is sent (most of a decision's CPU: docs/performance-history.md), and a decision's dozen statements are
    /// the same few texts every time; a prepared one is parsed once per connection, and after five runs the
    /// server may keep one plan for it (`plan_cache_mode`, default `auto`).
    private var prepared: [PreparedKey: PreparedQuery] = [:]
    /// How often each statement not yet prepared was sent: one is prepared when it is sent again, so that a
    /// statement sent once (a copy's batch insert, a report's query) costs no extra round trip.
    private var timesSent: [PreparedKey: Int] = [:]
    /// Statements the server would not prepare as typed (a NULL whose type the server cannot tell): sent unnamed.
    private var unpreparable: Set<PreparedKey> = []
    /// At most this many statements per connection (each holds a plan in the server's memory). Connections
    /// are shared with reports and the decision browser: past the limit, statements go unnamed, as before.
    static let preparedLimit = 200

    /// The prepared statement for `text` with `values`, preparing it (one round trip, once per connection) when
    /// it is sent for the second time; nil: send it unnamed, as always for a statement without values.
    private func preparedStatement(_ text: String, _ values: [SQLValue]) throws -> PreparedQuery? {
        guard !values.isEmpty else { return nil }
        let key = PreparedKey(text: text, types: values.map(\.declaredType))
        if let statement = prepared[key] { return statement }
        guard prepared.count < Self.preparedLimit, !unpreparable.contains(key) else { return nil }
        let sent = (timesSent[key] ?? 0) + 1
        guard sent >= 2 else {
            if timesSent.count >= 4 * Self.preparedLimit { timesSent = [:] }
            timesSent[key] = sent
            return nil
        }
        timesSent[key] = nil
        do {
            // Waits for statements sent before it too: the connection answers in order.
            let statement = try waitWithDeadline(connection.prepare(query: Self.declaringTypes(text, key.types)))
            prepared[key] = statement
            return statement
        } catch {
            // The statement fails as its unnamed self would have (the server parses both alike), and with the
            // cause itself, after any statement sent before it: a failed Parse aborts the transaction, so sending
            // it unnamed after would only say so. A statement the server cannot type is sent unnamed from now on.
            if case let PostgresLedgerError.server(state, _) = Self.classify(error, during: nil), state.hasPrefix("42") {
                unpreparable.insert(key)
            }
            return try inOrder(.failure(error), after: takePending())
        }
    }

    /// A prepared statement the server no longer has (someone ran `DISCARD ALL`, a pooler between) or whose
    /// plan no longer fits the tables: the connection is given up, so that its statements are prepared
    /// again on a new one, and the failure is the database's (transient), not the request's.
    private func forgettingLostStatements(_ failure: any Error) -> any Error {
        guard case let PostgresLedgerError.server(state, message) = failure,
              state == "26000" || (state == "0A000" && message.contains("cached plan")) else { return failure }
        prepared = [:]
        close()
        return PostgresLedgerError.unreachable("the connection lost its prepared statements: \(message) (SQLSTATE \(state))")
    }

    /// `text` with each `$n` cast to the type of its value (`$3::int8`), outside quoted text: what an unnamed
    /// statement's Parse message declares, so that a prepared statement means exactly what it meant unnamed.
    static func declaringTypes(_ text: String, _ types: [String?]) -> String {
        var result = ""
        var characters = text.makeIterator()
        var quoted = false
        var pending = characters.next()
        while let character = pending {
            pending = characters.next()
            result.append(character)
            if character == "'" { quoted.toggle() }
            guard !quoted, character == "$", let first = pending, first.isASCII, first.isNumber else { continue }
            var digits = ""
            while let digit = pending, digit.isASCII, digit.isNumber {
                digits.append(digit)
                pending = characters.next()
            }
            result += digits
            if let number = Int(digits), number >= 1, number <= types.count, let type = types[number - 1] {
                result += "::" + type
            }
        }
        return result
    }

    /// `?` → `$1, $2, …` (the shared statements are written for SQLite), and SQLite's `CROSS JOIN … ON`,
    /// which fixes SQLite's join order, as the plain join PostgreSQL plans itself.
    private func numberedText(_ sql: String) -> String {
        // Statements written for PostgreSQL (with `$n`) pass unchanged.
        guard sql.utf8.contains(UInt8(ascii: "?")) else { return sql }
        if let known = numbered[sql] { return known }
        var text = ""
        var number = 0
        for character in sql {
            if character == "?" {
                number += 1
                text += "$\(number)"
            } else {
                text.append(character)
            }
        }
        text = text.replacingOccurrences(of: " CROSS JOIN ", with: " JOIN ")
        numbered[sql] = text
        return text
    }

    static func classify(_ error: any Error, during: String?) -> any Error {
        let prefix = during.map { "\($0): " } ?? ""
        if let known = error as? PostgresLedgerError { return known }
        if let psql = error as? PSQLError {
            switch psql.code {
            case .server:
                return serverFailure(state: psql.serverInfo?[.sqlState], message: psql.serverInfo?[.message], prefix: prefix)
            default:
                let underlying = psql.underlying.map { "\($0)" } ?? "\(psql.code)"
                return PostgresLedgerError.unreachable(prefix + underlying)
            }
        }
        // A prepared statement's failures come in the older form.
        if let legacy = error as? PostgresError {
            switch legacy {
            case let .server(answer):
                return serverFailure(state: answer.fields[.sqlState], message: answer.fields[.message], prefix: prefix)
            case .connectionClosed, .protocol:
                return PostgresLedgerError.unreachable(prefix + "\(legacy)")
            }
        }
        if error is ChannelError || error is IOError || error is NIOConnectionError {
            return PostgresLedgerError.unreachable(prefix + "\(error)")
        }
        return PostgresLedgerError.unreachable(prefix + String(describing: error))
    }

    private static func serverFailure(state: String?, message: String?, prefix: String) -> PostgresLedgerError {
        let state = state ?? "XX000", message = prefix + (message ?? "error")
        // A server shutting down or refusing connections is the database's absence, as a refused socket is.
        return ["57P01", "57P02", "57P03", "08006", "08001", "08004"].contains(state)
            ? .unreachable(message) : .server(sqlState: state, message: message)
    }
}

/// A row of an answer. Every statement asks for its rows in binary (postgres-nio's Bind message always does),
/// but the older prepared-statement API describes a prepared statement's columns as text, as the server's
/// Describe of the statement does: each cell is read as the binary it is.
struct LedgerRow {
    private let row: PostgresRandomAccessRow

    init(_ row: PostgresRow) { self.row = row.makeRandomAccess() }

    var count: Int { row.count }

    subscript(index: Int) -> PostgresCell {
        let cell = row[index]
        guard cell.format != .binary else { return cell }
        return PostgresCell(bytes: cell.bytes, dataType: cell.dataType, format: .binary, columnName: cell.columnName, columnIndex: index)
    }
}

extension LedgerRow {
    func text(_ column: Int) throws -> String { try self[column].decode(String.self) }
    func optionalText(_ column: Int) throws -> String? { try self[column].decode(String?.self) }
    func integer(_ column: Int) throws -> Int { try self[column].decode(Int.self) }
    func optionalInteger(_ column: Int) throws -> Int? { try self[column].decode(Int?.self) }
    func real(_ column: Int) throws -> Double { try self[column].decode(Double.self) }
    /// A column as a ledger cell, by the type the server answered with.
    func cell(_ column: Int) throws -> LedgerCell {
        let value = self[column]
        guard value.bytes != nil else { return .null }
        switch value.dataType {
        case .int2, .int4, .int8: return .integer(Int64(try value.decode(Int.self)))
        case .float4, .float8: return .real(try value.decode(Double.self))
        case .bool: return .integer(try value.decode(Bool.self) ? 1 : 0)
        case .bytea: return .bytes(try optionalBytes(column) ?? [])
        default: return .text(try value.decode(String.self))
        }
    }

    func optionalBytes(_ column: Int) throws -> [UInt8]? {
        try self[column].decode(ByteBuffer?.self).map { Array($0.readableBytesView) }
    }
}
