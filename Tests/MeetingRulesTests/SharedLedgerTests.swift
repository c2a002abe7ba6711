import Foundation
import MeetingLedger
@testable import MeetingPostgres
import TestSupport
import XCTest

/// The shared ledger's URL as libpq reads one, and (on the test command's PostgreSQL) its schema rules.
final class SharedLedgerTests: XCTestCase {
    func test_urls_readAsLibpqReadsThem() throws {
        let tcp = try PostgresLocation(url: "postgresql://meet%40ing:p%3Ass@db.example.org:6543/led%20ger?sslmode=require", environment: [:])
        XCTAssertEqual([tcp.user, tcp.password, tcp.host, String(tcp.port), tcp.database, tcp.sslMode],
                       ["meet@ing", "p:ss", "db.example.org", "6543", "led ger", "require"])
        XCTAssertFalse(tcp.description.contains("p:ss"), "a description never shows the password: \(tcp.description)")

        let socket = try PostgresLocation(url: "postgresql:///meetingd?host=/run/postgresql", environment: ["USER": "office"])
        XCTAssertEqual([socket.user, socket.host, String(socket.port), socket.database], ["office", "/run/postgresql", "5432", "meetingd"])
        XCTAssertEqual(try PostgresLocation(url: socket.url, environment: [:]), socket, "the URL made again reads the same")

        let short = try PostgresLocation(url: "postgres://u@h", environment: ["PGPASSWORD": "from-env"])
        XCTAssertEqual([short.database, short.password, short.sslMode], ["u", "from-env", "prefer"])

        for (bad, named) in [("postgresql://h/db?sslmode=sometimes", "sslmode"), ("postgresql://h:99999/db", "port"),
                             ("postgresql://h/db?search_path=x", "search_path")] {
            XCTAssertThrowsError(try PostgresLocation(url: bad, environment: [:]), bad) { error in
                XCTAssertTrue("\(error)".contains(named), "\(error)")
            }
        }
        let percent = try PostgresLocation(url: "postgresql://u:100%25%2541@h/d%2561?sslmode=disable", environment: [:])
        XCTAssertEqual([percent.password, percent.database], ["100%%41", "d%61"], "decoded once, not twice")
        for secret in ["postgresql://u:s@cret@h/db", "postgresql://u@h/db?sslmode=disable&password=secret",
                       "postgresql://u@h/db?password=secret"] {
            XCTAssertFalse(PostgresLocation.redacted(secret).contains("secret"), PostgresLocation.redacted(secret))
            XCTAssertThrowsError(try PostgresLocation(url: secret + (secret.contains("?") ? "&" : "?") + "sslmode=bogus", environment: [:])) { error in
                XCTAssertFalse("\(error)".contains("secret"), "\(error)")
            }
        }
        XCTAssertTrue(LedgerOpener.displayName("postgresql://u:secret@h/db").contains("u@"))
        XCTAssertFalse(LedgerOpener.displayName("postgresql://u:secret@h/db").contains("secret"))
        XCTAssertFalse(PostgresLocation.isURL("/var/lib/meetingd/ledger.sqlite"))
    }

    func test_aPasswordFile_isReadOnlyWhenPrivate_withLibpqsWildcardsAndEscapes() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pgpass-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data("# comment\nother:5432:*:u:wrong\ndb.example.org:*:meetingd:u:se\\:cret\n".utf8).write(to: file)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        let environment = ["PGPASSFILE": file.path]
        XCTAssertEqual(try PostgresLocation(url: "postgresql://u@db.example.org/meetingd", environment: environment).password, "se:cret")
        XCTAssertNil(try PostgresLocation(url: "postgresql://u@db.example.org/other", environment: environment).password)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file.path)
        XCTAssertNil(try PostgresLocation(url: "postgresql://u@db.example.org/meetingd", environment: environment).password,
                     "a file others may read is ignored, as libpq ignores it")
    }

    /// On the test command's PostgreSQL only: a database a newer meetingd migrated is refused, by name.
    func test_aNewerSchema_isRefused() throws {
        guard let server = TestLedger.serverURL else { throw XCTSkip("MEETINGD_TEST_POSTGRES is not set (make test-postgresql sets it)") }
        let url = try TestLedger.freshDatabase(on: server)
        let ledger = try LedgerOpener.open(url, node: "n1")
        XCTAssertEqual(try ledger.approvedCount(), 0)
        let session = try PostgresSession.connect(try PostgresLocation(url: url), id: 99, logger: .init(label: "test"))
        defer { session.close() }
        try session.execute("INSERT INTO meetingd_schema (name) VALUES ('v99: from the future')")
        XCTAssertThrowsError(try LedgerOpener.open(url, node: "n1").approvedCount()) { error in
            XCTAssertTrue("\(error)".contains("newer meetingd") && "\(error)".contains("v99"), "\(error)")
        }
        XCTAssertThrowsError(try LedgerOpener.openForReading(url).approvedCount()) { error in
            XCTAssertTrue("\(error)".contains("newer meetingd"), "\(error)")
        }
    }
}
