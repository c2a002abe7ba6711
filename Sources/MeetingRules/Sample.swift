import Foundation
import MeetingModel

/// Building blocks for rule examples: a plain, valid city-department business meeting in Hangzhou
/// that passes every rule, changed in one respect per example.
public enum Sample {
    public static let shanghai = TimeZone(identifier: "Asia/Shanghai")!

    /// `"2025-03-18 09:00"` read as Asia/Shanghai wall-clock time.
    public static func at(_ text: String, zone: TimeZone = shanghai) -> Date {
        let parts = text.split(separator: " ")
        let date = LocalDate(String(parts[0]))!
        let clock = parts[1].split(separator: ":").map { Double($0)! }
        return ZonedClock(timeZone: zone).instant(date, secondsOfDay: clock[0] * 3600 + clock[1] * 60)
    }

    public static let countyHealthBureau = MeetingRequest.Attendee(
        unit: "西湖区卫生健康局", level: .county, region: "浙江省/杭州市/西湖区", role: .departmentHead)

    public static func meeting(
        _ id: String = "sample-1", kind: MeetingKind = .business,
        from start: String = "2025-03-18 09:00", to end: String = "2025-03-18 11:30",
        unit: String = "杭州市卫生健康委员会", level: Level = .city, type: OrganizerType = .department,
        system: String? = "卫生健康", region: String = "浙江省/杭州市",
        attendees: [MeetingRequest.Attendee] = [countyHealthBureau]
    ) -> MeetingRequest {
        MeetingRequest(
            id: id, title: "示例会议 \(id)", kind: kind, purpose: .study,
            organizer: .init(unit: unit, level: level, type: type, system: system, region: region),
            start: at(start), end: at(end), location: "杭州市民中心", planRef: "杭卫办〔2025〕1号 第4项",
            attendees: attendees,
            agenda: [.init(type: .mainSpeech, speaker: "陈一", speakerRole: .departmentHead, minutes: 45)])
    }

    /// A township principal of `town`, in 西湖区.
    public static func townshipPrincipal(_ town: String, role: AttendeeRole = .partySecretary, reason: String? = "主责部署") -> MeetingRequest.Attendee {
        .init(unit: "\(town)党工委", level: .township, region: "浙江省/杭州市/西湖区/\(town)", type: .partyCommittee,
              role: role, reason: reason)
    }
}

extension MeetingRequest {
    /// A copy changed by `change`: `Sample.meeting().with { $0.kind = .relay }`.
    public func with(_ change: (inout MeetingRequest) -> Void) -> MeetingRequest {
        var copy = self
        change(&copy)
        return copy
    }
}
