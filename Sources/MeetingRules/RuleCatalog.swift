import MeetingModel

/// The rules meetingd enforces, in catalogue order. Adding a rule is adding a file and a line here.
public struct RuleCatalog: Sendable {
    public let rules: [any Rule]

    public init(rules: [any Rule]) { self.rules = rules }

    public static let standard = RuleCatalog(rules: [
        PlanRequired(),
        AnnualComprehensiveCap(),
        MergeBusinessMeetings(),
        RoutineFrequency(),
        RelayNotOvernight(),
        GrassrootsDirectApproval(),
        NoCascadeAfterDirect(),
        OnsitePromotionFrequency(),
        DocumentAlreadyIssued(),
        YearEndClustering(),
        TownshipLeaderLoad(),
        NoAccompanyingAttendance(),
        DeputyConvenedNoPrincipals(),
        DepartmentMeetingLeaders(),
        PrincipalAttendanceJustified(),
        CentralMeetingScope(),
        ProvincialMeetingScope(),
        OnePrincipalSpeaks(),
        MainSpeechOneHour(),
        SpeechTimeControlled(),
        SessionLength(),
        PreferVideo(),
        NoInspectionMeetings(),
    ])

    public func rule(_ id: RuleID) -> (any Rule)? { rules.first { $0.id == id } }
}
