import MeetingModel

/// Clause 6: meetings that can be held by video need not gather people in one place.
public struct PreferVideo: Rule {
    public let id = RuleID.preferVideo
    public let clause = "6"
    public let sentence = "能采用电视电话、网络视频形式召开的会议，可不集中开会"
    public let summary = "an in-person meeting without group discussion whose attendees come from at least min_regions regions"
    public let defaultSeverity = Severity.warn
    public let settings = [SettingSpec("min_regions", .integer(minimum: 2, maximum: 100000), default: .integer(5),
                                       help: "attendee regions from which an in-person meeting should rather be a video meeting")]
    public let fix = Bilingual(zh: "改为电视电话或网络视频会议（mode: video）。", en: "Hold it as a telephone or video conference (mode: video).")

    public init() {}

    public func check(_ context: RuleContext) -> [Finding] {
        let request = context.request
        guard request.mode == .inPerson, !request.groupDiscussion else { return [] }
        let regions = Set(request.attendees.map(\.region))
        let threshold = context.settings.integer("min_regions")
        guard regions.count >= threshold else { return [] }
        return [finding(zh: "参会单位来自 \(regions.count) 个地区，可采用视频形式", en: "attendees come from \(regions.count) regions; a video meeting would do")]
    }

    public var examples: [RuleExample] {
        let districts = ["西湖区", "上城区", "拱墅区", "滨江区", "萧山区"].map {
            MeetingRequest.Attendee(unit: "\($0)卫生健康局", level: .county, region: "浙江省/杭州市/\($0)", role: .departmentHead)
        }
        return [
            .passes("four regions in person", Sample.meeting(attendees: Array(districts.prefix(4)))),
            .passes("five regions by video", Sample.meeting(attendees: districts).with { $0.mode = .video }),
            .fails("five regions in person", Sample.meeting(attendees: districts)),
        ]
    }
}
