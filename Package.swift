// swift-tools-version:6.1
import PackageDescription

// Linux only: the spool's durability and watching use syncfs(2), renameat2(2) and inotify(7) (CSystemExtras, the
// daemon), which other systems do not have. SwiftPM has no way to name Linux as the platform; CSystemExtras stops
// the build elsewhere with an #error that says so.
let package = Package(
    name: "meetingd",
    products: [
        .executable(name: "meetingd", targets: ["meetingd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // The one C boundary: libical, linked through pkg-config.
        .systemLibrary(
            name: "CLibical",
            pkgConfig: "libical",
            providers: [.apt(["libical-dev"])]
        ),
        // syncfs(2), which Swift's Glibc does not import: the spool's durability barrier.
        .target(name: "CSystemExtras"),
        // Meeting requests: the JSON format, its validation and local-time arithmetic. No I/O.
        .target(name: "MeetingModel"),
        // The rule catalogue and the decision engine. No I/O: it sees a request and a ledger view.
        .target(name: "MeetingRules", dependencies: ["MeetingModel"]),
        // Rule settings read from the YAML config file.
        .target(name: "MeetingConfig", dependencies: ["MeetingRules", "Yams"]),
        // The ledger of decisions behind a small protocol; SQLite through GRDB by default.
        .target(
            name: "MeetingLedger",
            dependencies: ["MeetingRules", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "GRDBSQLite", package: "GRDB.swift")]
        ),
        // The shared ledger on PostgreSQL (postgres-nio), for several offices deciding against one set of caps,
        // and the one place that opens a ledger from its configured location (a file or a postgresql:// URL).
        .target(
            name: "MeetingPostgres",
            dependencies: ["MeetingLedger", "MeetingRules", .product(name: "PostgresNIO", package: "postgres-nio"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        // iCalendar output; the only target that imports libical.
        .target(name: "MeetingCalendar", dependencies: ["CLibical", "MeetingModel"]),
        // The spool directory, decision pipeline, notes and decision log.
        .target(
            name: "MeetingSpool",
            dependencies: ["MeetingModel", "MeetingRules", "MeetingLedger", "MeetingCalendar", "MeetingConfig", "CSystemExtras"]
        ),
        // What-if replay: a ledger's history decided again under other settings, on a scratch ledger.
        .target(name: "MeetingReplay", dependencies: ["MeetingSpool", "MeetingLedger", "MeetingRules", "MeetingModel"]),
        // `meetingd report` and the decision browser: a year of decisions, caps and the year-end window read from the
        // ledger with the rules' own queries, as JSON, text and one self-contained HTML page.
        .target(name: "MeetingReport", dependencies: ["MeetingSpool", "MeetingLedger", "MeetingRules", "MeetingModel"]),
        // The long-running daemon: spool watcher, config reloader, watchdog and feed server as Services in one ServiceGroup.
        .target(
            name: "MeetingDaemon",
            dependencies: [
                "MeetingSpool", "MeetingConfig", "MeetingPostgres", "MeetingReport", "CSystemExtras",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "meetingd",
            dependencies: [
                "MeetingSpool", "MeetingConfig", "MeetingDaemon", "MeetingReplay", "MeetingPostgres", "MeetingReport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The tests' choice of ledger backend (SQLite, or a fresh database on the test command's PostgreSQL).
        .target(name: "TestSupport", dependencies: ["MeetingLedger", "MeetingPostgres"], path: "Tests/TestSupport"),
        .testTarget(
            name: "MeetingRulesTests",
            dependencies: ["MeetingRules", "MeetingModel", "MeetingConfig", "MeetingLedger", "MeetingPostgres", "TestSupport"]
        ),
        .testTarget(
            name: "MeetingSpoolTests",
            dependencies: ["MeetingSpool", "MeetingCalendar", "MeetingLedger", "MeetingConfig", "MeetingReplay", "MeetingPostgres",
                           "MeetingReport", "MeetingDaemon", "TestSupport",
                           .product(name: "HummingbirdTesting", package: "hummingbird")],
            resources: [.copy("Fixtures")]
        ),
    ]
)
