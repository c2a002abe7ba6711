import MeetingModel
import MeetingRules
import XCTest

final class EngineTests: XCTestCase {
    let engine = RuleEngine(settings: RuleSettingsSet())

    func test_waivableRule_isCancelledByAnApprovalNamingIt_andTheWaiverIsRecorded() throws {
        let longMeeting = Sample.meeting(from: "2025-04-02 09:00", to: "2025-04-02 17:00")
        XCTAssertEqual(try engine.assess(longMeeting, ledger: InMemoryLedger()).violations.map(\.rule), [.sessionLength])
        let waived = longMeeting.with { $0.approvals = [.init(rule: .sessionLength, approver: "市委办公厅", ref: "杭委办〔2025〕9号")] }
        let assessment = try engine.assess(waived, ledger: InMemoryLedger())
        XCTAssertEqual(assessment.violations, [])
        XCTAssertEqual(assessment.waived, [Waiver(rule: .sessionLength, approval: waived.approvals[0])])
    }

    func test_hardRule_ignoresAnApprovalNamingIt() throws {
        let longSpeech = Sample.meeting().with {
            $0.agenda[0].minutes = 90
            $0.approvals = [.init(rule: .mainSpeechOneHour, approver: "市委", ref: "x")]
        }
        let assessment = try engine.assess(longSpeech, ledger: InMemoryLedger())
        XCTAssertEqual(assessment.violations.map(\.rule), [.mainSpeechOneHour])
        XCTAssertEqual(assessment.waived, [])
    }

    func test_waiver_neverTurnsAWarningOff() throws {
        var settings = RuleSettingsSet()
        settings[.sessionLength].severity = .warn
        let request = Sample.meeting(from: "2025-04-02 09:00", to: "2025-04-02 17:00").with {
            $0.approvals = [.init(rule: .sessionLength, ref: "x")]
        }
        let assessment = try RuleEngine(settings: settings).assess(request, ledger: InMemoryLedger())
        XCTAssertEqual(assessment.warnings.map(\.rule), [.sessionLength])
        XCTAssertEqual(assessment.waived, [])
        XCTAssertTrue(assessment.isApproved)
    }

    func test_planRequiredApproval_isRecordedAsAWaiver() throws {
        let request = Sample.meeting().with {
            $0.planRef = nil
            $0.approvals = [.init(rule: .planRequired, approver: "市委办公厅", ref: "杭委办〔2025〕3号")]
        }
        let assessment = try engine.assess(request, ledger: InMemoryLedger())
        XCTAssertEqual(assessment.warnings, [])
        XCTAssertEqual(assessment.waived.map(\.rule), [.planRequired])
    }

    func test_severityOff_skipsTheRule() throws {
        var settings = RuleSettingsSet()
        settings[.mainSpeechOneHour].severity = .off
        let request = Sample.meeting().with { $0.agenda[0].minutes = 90 }
        XCTAssertTrue(try RuleEngine(settings: settings).assess(request, ledger: InMemoryLedger()).isApproved)
    }

    func test_speechMinutes_warnWhileWorkReportsReject() throws {
        let request = Sample.meeting().with { $0.agenda.append(.init(type: .speech, speaker: "李四", minutes: 25)) }
        let assessment = try engine.assess(request, ledger: InMemoryLedger())
        XCTAssertTrue(assessment.isApproved)
        XCTAssertEqual(assessment.warnings.map(\.rule), [.speechTimeControlled])
    }

    func test_secondComprehensiveMeetingInYear_isRejectedWithCapFacts() throws {
        let first = Sample.meeting("comp-1", kind: .comprehensive, from: "2025-02-25 09:00", to: "2025-02-25 12:00")
        let second = Sample.meeting("comp-2", kind: .comprehensive, from: "2025-07-08 09:00", to: "2025-07-08 12:00")
        let assessment = try engine.assess(second, ledger: InMemoryLedger([MeetingRecord(first)]))
        let finding = try XCTUnwrap(assessment.violations.first)
        XCTAssertEqual(finding.rule, .annualComprehensiveCap)
        XCTAssertEqual(finding.clause, "4")
        XCTAssertEqual(finding.counted, [CountedMeeting(id: "comp-1", date: LocalDate("2025-02-25")!, title: first.title)])
        XCTAssertTrue(finding.factsLine.contains("comp-1 (2025-02-25)"))
    }

    func test_statutoryMeeting_isApprovedWithoutRules() throws {
        let decider = Decider(engine: engine)
        let request = Sample.meeting(kind: .statutory, from: "2025-01-10 09:00", to: "2025-01-12 17:00")
        let decision = try decider.decide(.success(.proposal(request)), state: InMemoryLedger())
        XCTAssertEqual(decision.verdict, .approved)
        XCTAssertEqual(decision.note, "exempt: statutory")
        XCTAssertEqual(decision.assessment, Assessment())
    }

    func test_statutoryMeetings_countForNothingInCaps() throws {
        let statutory = MeetingRecord(Sample.meeting("npc", kind: .statutory, from: "2025-02-01 09:00", to: "2025-02-01 11:00")
            .with { $0.kind = .statutory })
        var comprehensiveLooking = statutory
        comprehensiveLooking.kind = .comprehensive  // even if it looked comprehensive, exempt records are never counted
        let request = Sample.meeting("comp", kind: .comprehensive, from: "2025-03-01 09:00", to: "2025-03-01 11:00")
        XCTAssertTrue(try engine.assess(request, ledger: InMemoryLedger([comprehensiveLooking])).isApproved)
    }

    func test_yearEndWindow_crossesTheNewYear() {
        let window = YearEndClustering.window(containing: LocalDate("2026-01-15")!, start: (12, 1), end: (1, 31))
        XCTAssertEqual(window, LocalDate("2025-12-01")!...LocalDate("2026-01-31")!)
        XCTAssertEqual(YearEndClustering.window(containing: LocalDate("2025-12-31")!, start: (12, 1), end: (1, 31)),
                       LocalDate("2025-12-01")!...LocalDate("2026-01-31")!)
        XCTAssertNil(YearEndClustering.window(containing: LocalDate("2025-02-01")!, start: (12, 1), end: (1, 31)))
    }

    func test_settingsVersion_changesWithAnySetting() {
        var settings = RuleSettingsSet()
        let before = settings.version
        settings[.annualComprehensiveCap].values["max_per_year"] = .integer(2)
        XCTAssertNotEqual(settings.version, before)
        XCTAssertEqual(RuleSettingsSet().version, before)
    }
}
