import MeetingModel

/// Clause 6: when both local principals attend, they generally do not both speak.
public struct OnePrincipalSpeaks: Rule {
    public let id = RuleID.onePrincipalSpeaks
    public let clause = "6"
    public let sentence = "地方党政主要负责同志同时参加的会议一般不同时讲话"
    public let summary = "the party-secretary and the government-head of one region do not both have speaking items"
    public let defaultSeverity = Severity.reject
    public let waiverPolicy = WaiverPolicy.waivable
    public let fix = Bilingual(zh: "同一地方党政主要负责同志只安排一人讲话；确需两人讲话的附上批准（rule 为 one-principal-speaks）。",
                               en: "Let only one of the two principals of the region speak, or add an approval naming one-principal-speaks.")

    public init() {}

    public func check(_ context: RuleContext) -> [Finding] {
        let request = context.request
        var rolesByRegion: [String: Set<AttendeeRole>] = [:]
        var regions: [String] = []
        for item in request.agenda where item.type.isSpeaking {
            guard let role = item.speakerRole, role.isPrincipal else { continue }
            let region = item.speakerRegion ?? request.organizer.region
            if rolesByRegion[region] == nil { regions.append(region) }
            rolesByRegion[region, default: []].insert(role)
        }
        return regions.filter { rolesByRegion[$0]!.count == 2 }.map { region in
            finding(zh: "\(region) 的党委主要负责同志和政府主要负责同志都安排了讲话",
                    en: "both the party secretary and the head of government of \(region) have speaking items")
        }
    }

    public var examples: [RuleExample] {
        let secretary = MeetingRequest.AgendaItem(type: .mainSpeech, speaker: "市委书记", speakerRole: .partySecretary, minutes: 40)
        let mayor = MeetingRequest.AgendaItem(type: .speech, speaker: "市长", speakerRole: .governmentHead, minutes: 15)
        return [
            .passes("only the secretary speaks", Sample.meeting(type: .partyCommittee).with { $0.agenda = [secretary] }),
            .passes("principals of different regions", Sample.meeting(type: .partyCommittee).with {
                $0.agenda = [secretary, mayor.with { $0.speakerRegion = "浙江省/杭州市/西湖区" }]
            }),
            .fails("secretary and mayor both speak", Sample.meeting(type: .partyCommittee).with { $0.agenda = [secretary, mayor] }),
        ]
    }
}

extension MeetingRequest.AgendaItem {
    func with(_ change: (inout Self) -> Void) -> Self {
        var copy = self
        change(&copy)
        return copy
    }
}
