import Foundation
import PostgresNIO

/// A `postgresql://` or `postgres://` URL read as libpq reads one: user, password, host (or a socket folder
/// in `?host=/run/postgresql`), port, database and `sslmode`. A password missing from the URL comes from
/// `PGPASSWORD`, then `~/.pgpass` (or `PGPASSFILE`).
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public var user: String
    public var password: String?
    /// A host name or address, or the folder of a unix socket (a path starting with `/`).
    public var host: String
    public var port: Int
    public var database: String
    public var sslMode: String

    /// Whether `text` names a PostgreSQL ledger rather than a SQLite file.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgresql://") || text.hasPrefix("postgres://")
    }

    public init(url text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard Self.isURL(text), let components = URLComponents(string: text) else {
            throw PostgresLedgerError.badLocation("\(Self.redacted(text)): not a postgresql:// URL")
        }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        let known: Set<String> = ["host", "port", "user", "password", "dbname", "sslmode", "application_name", "connect_timeout"]
        if let unknown = query.keys.sorted().first(where: { !known.contains($0) }) {
            throw PostgresLedgerError.badLocation("\(Self.redacted(text)): unknown parameter \(unknown) (known: \(known.sorted().joined(separator: ", ")))")
        }
        let systemUser = environment["PGUSER"] ?? environment["USER"] ?? "postgres"
        // URLComponents' user, password, host and path are decoded once already (and its query items).
        user = query["user"] ?? components.user ?? systemUser
        host = query["host"] ?? components.host.flatMap { $0.isEmpty ? nil : $0 } ?? environment["PGHOST"] ?? "/var/run/postgresql"
        if let portText = query["port"] ?? components.port.map(String.init) ?? environment["PGPORT"] {
            guard let number = Int(portText), (1...65535).contains(number) else {
                throw PostgresLedgerError.badLocation("\(Self.redacted(text)): port \(portText) is not a port number")
            }
            port = number
        } else {
            port = 5432
        }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = query["dbname"] ?? (path.isEmpty ? nil : path) ?? environment["PGDATABASE"] ?? user
        sslMode = query["sslmode"] ?? environment["PGSSLMODE"] ?? "prefer"
        guard ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"].contains(sslMode) else {
            throw PostgresLedgerError.badLocation("\(Self.redacted(text)): sslmode \(sslMode) is not one of disable, allow, prefer, require, verify-ca, verify-full")
        }
        password = query["password"] ?? components.password ?? environment["PGPASSWORD"]
            ?? Self.passwordFile(environment: environment, host: host, port: port, database: database, user: user)
    }

    /// The URL without its password, for logs and errors.
    public var description: String {
        let server = host.hasPrefix("/") ? "/\(database)?host=\(host)" : "\(host):\(port)/\(database)"
        return "postgresql://\(user)@" + server
    }

    /// The location as a URL again, password included (for handing to another process).
    public var url: String {
        func escaped(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text }
        let credentials = escaped(user) + (password.map { ":" + escaped($0) } ?? "")
        if host.hasPrefix("/") {
            return "postgresql://\(credentials)@/\(escaped(database))?host=\(escaped(host))&port=\(port)&sslmode=\(sslMode)"
        }
        return "postgresql://\(credentials)@\(host):\(port)/\(escaped(database))?sslmode=\(sslMode)"
    }

    /// `url` without its password: `user:password@` → `user@` (up to the last `@` before the path, which an
    /// unencoded `@` in a password cannot hide), and no `password=` parameter.
    static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        var rest = url[scheme.upperBound...]
        var query = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[mark...].split(separator: "&", omittingEmptySubsequences: false)
                .map { $0.hasPrefix("password=") || $0.hasPrefix("?password=") ? ($0.hasPrefix("?") ? "?password=…" : "password=…") : String($0) }
                .joined(separator: "&")
            rest = rest[..<mark]
        }
        let authorityEnd = rest.lastIndex(of: "@").map { at in rest[at...].firstIndex(of: "/") ?? rest.endIndex } ?? rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = String(rest[..<authorityEnd])
        if let at = authority.lastIndex(of: "@") {
            let credentials = authority[..<at]
            if let colon = credentials.firstIndex(of: ":") { authority = String(credentials[..<colon]) + String(authority[at...]) }
        }
        return String(url[..<scheme.upperBound]) + authority + String(rest[authorityEnd...]) + query
    }

    /// `~/.pgpass` lines `host:port:database:user:password`, `*` matching anything (libpq's rules; `\:` and
    /// `\\` escape). A file others may read is ignored, as libpq does.
    static func passwordFile(environment: [String: String], host: String, port: Int, database: String, user: String) -> String? {
        let path = environment["PGPASSFILE"] ?? (environment["HOME"].map { $0 + "/.pgpass" } ?? "")
        guard !path.isEmpty, let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let permissions = attributes[.posixPermissions] as? Int, permissions & 0o077 == 0,
              let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let hostName = host.hasPrefix("/") ? "localhost" : host
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            var fields: [String] = []
            var current = ""
            var escaped = false
            for character in line {
                if escaped {
                    current.append(character)
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == ":" && fields.count < 4 {
                    fields.append(current)
                    current = ""
                } else {
                    current.append(character)
                }
            }
            fields.append(current)
            guard fields.count == 5 else { continue }
            let wanted = [hostName, String(port), database, user]
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }

    /// postgres-nio's configuration for one connection.
    func configuration() throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if host.hasPrefix("/") {
            configuration = PostgresConnection.Configuration(
                unixSocketPath: host + "/.s.PGSQL.\(port)", username: user, password: password, database: database)
        } else {
            let tls: PostgresConnection.Configuration.TLS
            switch sslMode {
            case "disable", "allow":
                tls = .disable
            case "prefer", "require":
                // libpq's prefer and require encrypt without checking the server's certificate.
                var settings = TLSConfiguration.makeClientConfiguration()
                settings.certificateVerification = .none
                let context = try NIOSSLContext(configuration: settings)
                tls = sslMode == "prefer" ? .prefer(context) : .require(context)
            default:
                var settings = TLSConfiguration.makeClientConfiguration()
                settings.certificateVerification = sslMode == "verify-full" ? .fullVerification : .noHostnameVerification
                tls = .require(try NIOSSLContext(configuration: settings))
            }
            configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password,
                                                             database: database, tls: tls)
        }
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }
}
