import MeetingModel

/// Clause 4: what was held straight down to the grassroots is not held again level by level.
public struct NoCascadeAfterDirect: Rule {
    public let id = RuleID.noCascadeAfterDirect
    public let clause = "4"
    public let sentence = "对已直接开到基层的，不再层层召开"
    public let summary = "relays does not name an approved meeting that reached the grassroots"
    public let defaultSeverity = Severity.reject
    public let fix = Bilingual(zh: "该会议已直接开到基层，无需再层层召开；取消本次会议或改以文件落实。",
                               en: "That meeting already reached the grassroots directly; do not hold it again level by level — drop this meeting or follow up in writing.")

    public init() {}

    public func check(_ context: RuleContext) throws -> [Finding] {
        guard let relayed = context.request.relays, let original = try context.approvedMeeting(id: relayed),
              original.reachesGrassroots else { return [] }
        return [finding(zh: "所传达的会议 \(original.id)（\(original.localStartDate)）已直接开到基层",
                        en: "the relayed meeting \(original.id) (\(original.localStartDate)) already reached the grassroots directly",
                        counted: [CountedMeeting(original)])]
    }

    public var examples: [RuleExample] {
        let direct = Sample.meeting("prov-video", level: .province).with { $0.reachesGrassroots = true; $0.organizer.region = "浙江省" }
        let notDirect = Sample.meeting("prov-plain", level: .province).with { $0.organizer.region = "浙江省" }
        let relay = Sample.meeting("city-relay", kind: .relay, from: "2025-03-25 09:00", to: "2025-03-25 10:00")
            .with { $0.directiveIssued = Sample.at("2025-03-18 00:00") }
        return [
            .passes("relays a meeting that stopped at the city", relay.with { $0.relays = "prov-plain" }, after: [notDirect]),
            .passes("relays an unknown meeting", relay.with { $0.relays = "nothing-like-it" }),
            .fails("relays a meeting that reached the grassroots", relay.with { $0.relays = "prov-video" }, after: [direct]),
        ]
    }
}
