import Foundation
import Logging
import MeetingConfig
import MeetingLedger
import MeetingModel
import MeetingPostgres
import MeetingSpool
import ServiceLifecycle

/// `meetingd run`: opens the spool (taking its lock) and the ledger, then runs the watcher, the config
/// reloader and the watchdog in one ServiceGroup. SIGTERM/SIGINT: the request in hand is finished, then exit.
public enum Daemon {
    public static func run(configuration: Configuration, configPath: String?, spoolRoot: String, ledgerPath: String,
                           http: HTTPAddress?, groupCommit: Int, logger: Logger) async throws {
        let spool = try SpoolDirectory(root: spoolRoot)
        let lock = try SpoolLock(spool: spool)
        let ledger = try LedgerOpener.open(ledgerPath, node: configuration.nodeName)
        let pipeline = try DecisionPipeline(spool: spool, ledger: ledger, settings: configuration.rules, timeZone: configuration.timezone,
                                            feedSettings: configuration.feeds)
        pipeline.batchSize = groupCommit
        pipeline.feeds.linksPages = configuration.pages && http != nil
        pipeline.feeds.indexInterval = 5
        pipeline.feeds.recordsThroughAtOnce = false
        // Decisions that sync their own files (a shared ledger's) make no barrier that would write a busy node's
        // feeds anyway: they stay in the page cache, and a version replaced within half a minute is never written.
        pipeline.feeds.defersWrites = pipeline.syncsOwnFiles(groupOf: 1)
        let notifier = SystemdNotifier()
        let settings = SettingsBox(configuration.rules)
        let metrics = DaemonMetrics()
        let counters = DaemonCounters()
        let readiness = ReadinessGate(parts: http == nil ? ["spool"] : ["spool", "http"], notifier: notifier) { counters.status }
        let watcher = SpoolWatcher(pipeline: pipeline, settings: settings, notifier: notifier, metrics: metrics, readiness: readiness,
                                   counters: counters, logger: logger)
        // A graceful shutdown stops services in the reverse of this order, each after the one before has
        // finished: the watcher finishes its last group, then the publisher's last flush puts those decisions
        // into the feeds, and the feed server stops last.
        var services: [any Service] = []
        if let http {
            let zone = TimeZoneDatabase.system.timeZone(named: configuration.timezone) ?? TimeZone(identifier: "Asia/Shanghai")!
            let pages = configuration.pages ? PageSource(ledger: ledger, settings: { settings.settings }, timeZone: zone) : nil
            services.append(FeedServer(spool: spool, metrics: metrics, pages: pages).application(address: http, logger: logger) {
                logger.notice("serving feeds", metadata: ["http": "\(http.host):\(http.port)"])
                readiness.ready("http")
            })
        }
        services += [
            FeedPublisher(feeds: pipeline.feeds, ledger: ledger, metrics: metrics, logger: logger),
            watcher,
            ConfigReloader(path: configPath, running: configuration, settings: settings, notifier: notifier, logger: logger),
        ]
        if let watchdog = Watchdog(notifier: notifier) { services.append(watchdog) }
        var groupConfiguration = ServiceGroupConfiguration(
            services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(20)
        try await ServiceGroup(configuration: groupConfiguration).run()
        withExtendedLifetime(lock) {}
    }
}
