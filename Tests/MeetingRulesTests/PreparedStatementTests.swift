import Foundation
@testable import MeetingPostgres
import TestSupport
import XCTest

/// The shared ledger's connection prepares a statement it sends again (`PostgresSession`): the same answers,
/// the same failures, as the unnamed statement it replaces.
final class PreparedStatementTests: XCTestCase {
    func test_declaringTypes_castsEachValueOutsideQuotedText() {
        XCTAssertEqual(PostgresSession.declaringTypes("SELECT $1, $2 WHERE a = $10 AND b = '$1' AND c = $1::text[]",
                                                      ["int8", nil, "text[]", nil, nil, nil, nil, nil, nil, "float8"]),
                       "SELECT $1::int8, $2 WHERE a = $10::float8 AND b = '$1' AND c = $1::int8::text[]")
        XCTAssertEqual(PostgresSession.declaringTypes("SELECT 'it''s $1', $1", ["text"]), "SELECT 'it''s $1', $1::text")
        XCTAssertEqual(PostgresSession.declaringTypes("SELECT $3", ["text"]), "SELECT $3", "a number without a value stays as it is")
        XCTAssertEqual(PostgresSession.declaringTypes("SELECT $ 1, $", ["text"]), "SELECT $ 1, $")
    }

    /// A fresh database on the test command's server.
    private func freshDatabase() throws -> PostgresLocation {
        guard let server = TestLedger.serverURL else { throw XCTSkip("MEETINGD_TEST_POSTGRES is not set (make test-postgresql sets it)") }
        return try PostgresLocation(url: try TestLedger.freshDatabase(on: server))
    }

    private func session(_ location: PostgresLocation? = nil, id: Int = 7) throws -> PostgresSession {
        try PostgresSession.connect(try location ?? freshDatabase(), id: id, logger: .init(label: "test"))
    }

    /// Each shape of value, NULLs among them, read back the same from the first (unnamed) run, the second
    /// (which prepares it) and the third (prepared); the server holds the statement once.
    func test_aStatementSentAgain_isPrepared_andAnswersAsTheUnnamedOneDid() throws {
        let session = try session()
        defer { session.close() }
        try session.execute("""
            CREATE TABLE kinds (n INT4, big INT8, t TEXT, r FLOAT8, b BYTEA, yes BOOL, at TIMESTAMPTZ, words TEXT[], numbers INT8[])
            """)
        let insert = "INSERT INTO kinds VALUES ($1, $2, $3, $4, $5, $6 > 0, to_timestamp($7), $8, $9)"
        let values: [[SQLValue]] = [
            [.integer(1), .integer(1 << 40), .text("杭州市民政局 'quoted' $1"), .real(1.5), .bytes([0, 255, 7]), .integer(1), .real(1_800_000_000),
             .texts(["a", "浙江省"]), .integers([3, -4])],
            [.integer(2), .integer(nil), .text(nil), .real(nil), .bytes(nil), .integer(0), .real(0), .texts([]), .integers([])],
            [.integer(3), .integer(-7), .text(""), .real(-0.25), .bytes([]), .integer(1), .real(1), .texts(["x"]), .integers([0])],
            [.integer(4), .integer(nil), .text(nil), .real(nil), .bytes(nil), .integer(0), .real(0), .texts([]), .integers([])],
        ]
        for row in values { try session.execute(insert, row) }
        let select = "SELECT n, big, t, r, b, yes, extract(epoch FROM at)::float8, words, numbers FROM kinds WHERE n >= $1 ORDER BY n"
        func read() throws -> [String] {
            try session.rows(select, [.integer(0)]).map { row in
                [try row.integer(0).description, try row.optionalInteger(1).map(String.init) ?? "NULL", try row.optionalText(2) ?? "NULL",
                 try row[3].decode(Double?.self).map { "\($0)" } ?? "NULL", try row.optionalBytes(4).map { "\($0)" } ?? "NULL",
                 "\(try row[5].decode(Bool.self))", "\(try row.real(6))", "\(try row[7].decode([String].self))",
                 "\(try row[8].decode([Int].self))"].joined(separator: "|")
            }
        }
        let unnamed = try read(), preparing = try read(), prepared = try read()
        XCTAssertEqual(unnamed.count, 4)
        XCTAssertEqual(unnamed[0], "1|1099511627776|杭州市民政局 'quoted' $1|1.5|[0, 255, 7]|true|1800000000.0|[\"a\", \"浙江省\"]|[3, -4]")
        XCTAssertEqual(unnamed[1], "2|NULL|NULL|NULL|NULL|false|0.0|[]|[]")
        // Rows 3 and 4 were inserted by the prepared statements (each pattern of values sent for the second time).
        XCTAssertEqual(unnamed[2], "3|-7||-0.25|[]|true|1.0|[\"x\"]|[0]")
        XCTAssertEqual(unnamed[3], "4|NULL|NULL|NULL|NULL|false|0.0|[]|[]")
        XCTAssertEqual(preparing, unnamed)
        XCTAssertEqual(prepared, unnamed)
        let held = try session.rows("SELECT statement FROM pg_prepared_statements").map { try $0.text(0) }
        XCTAssertEqual(held.filter { $0.contains("FROM kinds WHERE n >= $1::int8") }.count, 1, "\(held)")
        XCTAssertEqual(held.filter { $0.hasPrefix("INSERT INTO kinds") }.count, 2, "one statement for each pattern of NULLs sent twice: \(held)")
    }

    /// A prepared statement's failure is classified as the unnamed one's (its SQLSTATE), a transaction it
    /// fails in is rolled back as before, and the statement works again after.
    func test_aPreparedStatementsFailure_isTheUnnamedOnes() throws {
        let session = try session()
        defer { session.close() }
        try session.execute("CREATE TABLE once (id TEXT PRIMARY KEY)")
        let insert = "INSERT INTO once (id) VALUES ($1)"
        for attempt in 1...3 {
            try session.execute(insert, [.text("a\(attempt)")])
            XCTAssertThrowsError(try session.execute(insert, [.text("a\(attempt)")])) { error in
                XCTAssertEqual((error as? PostgresLedgerError)?.sqlState, "23505", "attempt \(attempt): \(error)")
            }
        }
        try session.execute("BEGIN")
        XCTAssertThrowsError(try session.execute(insert, [.text("a1")]))
        XCTAssertThrowsError(try session.execute(insert, [.text("b")])) { error in
            XCTAssertEqual((error as? PostgresLedgerError)?.sqlState, "25P02", "\(error)")
        }
        try session.execute("ROLLBACK")
        try session.execute(insert, [.text("b")])
        XCTAssertEqual(try session.rows("SELECT count(*) FROM once WHERE id = $1", [.text("b")])[0].integer(0), 1)
    }

    /// A statement prepared inside a transaction that fails to prepare fails with its own cause (here a lock
    /// it waited for too long, which is transient), not with the aborted transaction that cause leaves behind.
    func test_aFailedPreparation_failsWithItsCause() throws {
        let location = try freshDatabase()
        let session = try self.session(location, id: 8), holder = try self.session(location, id: 9)
        defer { [session, holder].forEach { $0.close() } }
        try session.execute("CREATE TABLE locked (id TEXT)")
        let select = "SELECT count(*) FROM locked WHERE id = $1"
        XCTAssertEqual(try session.rows(select, [.text("a")])[0].integer(0), 0, "sent once: unnamed")
        try holder.execute("BEGIN")
        try holder.execute("LOCK TABLE locked IN ACCESS EXCLUSIVE MODE")
        try session.execute("SET lock_timeout = '200ms'")
        try session.execute("BEGIN")
        XCTAssertThrowsError(try session.rows(select, [.text("a")]), "sent again: prepared, which waits for the lock") { error in
            XCTAssertEqual((error as? PostgresLedgerError)?.sqlState, "55P03", "\(error)")
            XCTAssertTrue((error as? PostgresLedgerError)?.isTransient ?? false)
        }
        try session.execute("ROLLBACK")
        try holder.execute("COMMIT")
        for _ in 0..<2 { XCTAssertEqual(try session.rows(select, [.text("a")])[0].integer(0), 0, "and prepared when sent again") }
        XCTAssertEqual(try session.rows("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%FROM locked%'")[0].integer(0), 1)
    }

    /// A connection whose prepared statements the server dropped (`DISCARD ALL`, a pooler between) is given
    /// up with a transient failure, so that the decision is made again on a new one.
    func test_lostPreparedStatements_giveUpTheConnection() throws {
        let session = try session()
        defer { session.close() }
        let select = "SELECT $1 || 'x'"
        for _ in 0..<2 { XCTAssertEqual(try session.rows(select, [.text("a")])[0].text(0), "ax") }
        try session.execute("DEALLOCATE ALL")
        XCTAssertThrowsError(try session.rows(select, [.text("a")])) { error in
            guard case PostgresLedgerError.unreachable = error else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("26000"), "\(error)")
        }
        XCTAssertTrue(session.isClosed)
    }
}
