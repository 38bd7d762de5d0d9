"""Compliance counting rules (SPEC §6) on hand-computed cases: every date below was counted by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from lib.compliance.policy import Thresholds
from lib.compliance.status import POINT_COLUMNS, ComplianceInputs, by_urgency, compute
from lib.workdays import WorkingDays

CALENDAR = pd.DataFrame(
    [
        ("term", date(2025, 9, 22), date(2025, 12, 12)),
        ("vacation", date(2025, 12, 13), date(2026, 1, 11)),
        ("term", date(2026, 1, 12), date(2026, 3, 27)),
    ],
    columns=["kind", "start", "end"],
)
WORKDAYS = WorkingDays()


def mondays(first: date, last: date) -> list[date]:
    return [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]


def session_points(student: str, days: list[date], met: bool) -> list[tuple]:
    return [
        (
            student,
            datetime.combine(d, datetime.min.time()) + timedelta(hours=10),
            "session",
            f"E{d}",
            met,
            "",
        )
        for d in days
    ]


def term_mondays() -> list[date]:
    autumn = mondays(date(2025, 9, 22), date(2025, 12, 8))
    return autumn + mondays(date(2026, 1, 12), date(2026, 3, 23))


def inputs(
    points=(),
    activity=(),
    exemptions=(),
    reports=(),
    students=("A",),
    withdrawn=None,
) -> ComplianceInputs:
    activity_frame = pd.DataFrame(list(activity), columns=["student_id", "day"])
    return ComplianceInputs(
        students=pd.DataFrame(
            {
                "student_id": list(students),
                "start_date": [date(2025, 9, 22)] * len(students),
                "withdrawn_on": [withdrawn] * len(students),
            }
        ),
        points=pd.DataFrame(list(points), columns=POINT_COLUMNS),
        activity_days=activity_frame,
        last_activity=activity_frame.groupby("student_id", as_index=False)["day"].max(),
        exemptions=pd.DataFrame(list(exemptions), columns=["student_id", "start", "end"]),
        calendar=CALENDAR,
        reports=pd.DataFrame(
            list(reports), columns=["student_id", "reported_on", "reference", "recorded_by"]
        ),
    )


def row(inp: ComplianceInputs, as_of: date, workdays: WorkingDays = WORKDAYS) -> dict:
    result = compute(inp, Thresholds(), as_of, workdays)
    return result.statuses.set_index("student_id").loc["A"].to_dict()


def attending_until_mid_november() -> tuple[list, list]:
    """Every Monday session met up to 10 Nov, missed after; a Moodle day every Wednesday throughout."""
    met = [d for d in term_mondays() if d <= date(2025, 11, 10)]
    missed = [d for d in term_mondays() if d > date(2025, 11, 10)]
    wednesdays = [
        ("A", d + timedelta(days=2)) for d in mondays(date(2025, 9, 22), date(2026, 3, 23))
    ]
    return session_points("A", met, True) + session_points("A", missed, False), wednesdays


def test_missed_points_count_across_the_vacation():
    # misses: 17, 24 Nov, 1, 8 Dec (4); vacation has no points; 12, 19, 26 Jan, 2, 9, 16 Feb -> 10th
    points, activity = attending_until_mid_november()
    before = row(inputs(points, activity), date(2026, 2, 13))
    assert before["missed_consecutive"] == 9 and before["status"] == "compliant"
    after = row(inputs(points, activity), date(2026, 2, 20))
    assert after["missed_consecutive"] == 10
    assert after["status"] == "threshold_crossed"
    assert after["threshold_crossed_on"] == date(2026, 2, 16)
    assert after["report_due_by"] == date(2026, 3, 2)  # Mon 16 Feb + 10 working days
    assert after["expected_points"] == 12 + 6  # 8 met + 4 missed in autumn, 6 missed in spring


def test_an_exemption_pauses_the_point_count():
    points, activity = attending_until_mid_november()
    absence = [("A", date(2026, 1, 12), date(2026, 1, 25))]  # the sessions of 12 and 19 Jan
    at = row(inputs(points, activity, absence), date(2026, 2, 20))
    assert at["missed_consecutive"] == 8 and at["status"] == "compliant"
    assert at["expected_points"] == 16
    later = row(inputs(points, activity, absence), date(2026, 3, 6))
    assert later["threshold_crossed_on"] == date(2026, 3, 2)  # 10th miss two weeks later


def test_a_met_point_resets_the_count():
    points, activity = attending_until_mid_november()
    points += session_points("A", [date(2026, 1, 13)], True)  # one extra session attended
    at = row(inputs(points, activity), date(2026, 2, 20))
    assert at["missed_consecutive"] == 5  # 19, 26 Jan, 2, 9, 16 Feb


@pytest.mark.parametrize("met_first", [True, False])
def test_a_clash_attended_on_one_side_counts_the_met_point_first_in_any_order(met_first):
    points, activity = attending_until_mid_november()
    clash = session_points("A", [date(2026, 2, 16)], True)  # at the same moment as a missed one
    points = clash + points if met_first else points + clash
    at = row(inputs(points, activity), date(2026, 2, 20))
    # the clash's met session resets the count first: its missed twin is 1, not the 10th miss
    assert at["missed_consecutive"] == 1 and at["status"] == "compliant"
    assert at["threshold_crossed_on"] is None and at["expected_points"] == 12 + 6 + 1


def test_days_without_engagement_skip_the_vacation():
    # last engagement Mon 10 Nov; counted: 11 Nov-12 Dec = 32 days, vacation skipped, 12 Jan is
    # the 33rd, Sun 8 Feb the 60th; 10 working days after Sun 8 Feb: Fri 20 Feb
    activity = [("A", date(2025, 11, 10))]
    at = row(inputs(activity=activity), date(2026, 2, 7))
    assert at["days_without_engagement"] == 59 and at["status"] == "at_risk"
    at = row(inputs(activity=activity), date(2026, 2, 20))
    assert at["days_without_engagement"] == 72
    assert at["last_engagement_on"] == date(2025, 11, 10)
    assert at["threshold_crossed_on"] == date(2026, 2, 8)
    assert at["report_due_by"] == date(2026, 2, 20)


def test_an_exemption_pauses_the_days_count():
    activity = [("A", date(2025, 11, 10))]
    absence = [("A", date(2026, 1, 12), date(2026, 1, 18))]
    at = row(inputs(activity=activity, exemptions=absence), date(2026, 2, 20))
    assert at["days_without_engagement"] == 65
    assert at["threshold_crossed_on"] == date(2026, 2, 15)
    assert at["report_due_by"] == date(2026, 2, 27)


def test_report_deadline_across_christmas_and_a_calendar_bank_holiday():
    # 60th counted day on Fri 19 Dec when the count starts after Mon 20 Oct and nothing is skipped
    no_vacation = CALENDAR[CALENDAR["kind"] == "term"]
    inp = inputs(activity=[("A", date(2025, 10, 20))])
    inp.calendar = no_vacation
    at = row(inp, date(2026, 1, 9))
    assert at["threshold_crossed_on"] == date(2025, 12, 19)
    # 22, 23, 24 Dec, (25, 26 Dec bank holidays), 29, 30, 31 Dec, (1 Jan), 2, 5, 6, 7 Jan
    assert at["report_due_by"] == date(2026, 1, 7)
    closure = WorkingDays([date(2026, 1, 5)])  # a university closure day from the calendar
    assert row(inp, date(2026, 1, 9), closure)["report_due_by"] == date(2026, 1, 8)


def test_every_status_transition():
    activity = [("A", date(2025, 11, 10))]
    assert row(inputs(activity=activity), date(2025, 11, 16))["status"] == "compliant"
    # weeks of 17 and 24 Nov complete, teaching, without engagement
    assert row(inputs(activity=activity), date(2025, 11, 23))["status"] == "compliant"
    assert row(inputs(activity=activity), date(2025, 11, 30))["status"] == "at_risk"
    assert row(inputs(activity=activity), date(2026, 2, 8))["status"] == "threshold_crossed"
    report = [("A", date(2026, 2, 12), "UKVI-1", "visa_team")]
    reported = row(inputs(activity=activity, reports=report), date(2026, 2, 13))
    assert reported["status"] == "reported" and reported["reported_on"] == date(2026, 2, 12)
    assert reported["threshold_crossed_on"] is None
    # before the report's date it is not yet made
    assert row(inputs(activity=activity, reports=report), date(2026, 2, 11))["status"] == (
        "threshold_crossed"
    )
    gone = inputs(activity=activity, reports=report, withdrawn=date(2026, 2, 16))
    assert row(gone, date(2026, 2, 15))["status"] == "reported"
    withdrawn = row(gone, date(2026, 3, 1))
    assert withdrawn["status"] == "withdrawn" and withdrawn["withdrawn_on"] == date(2026, 2, 16)


def test_a_new_crossing_after_a_report_needs_a_new_report():
    points, activity = attending_until_mid_november()  # crossed on 16 Feb (as above)
    points += session_points("A", [date(2026, 2, 24)], True)  # back once on Tue 24 Feb
    points += session_points("A", mondays(date(2026, 3, 30), date(2026, 5, 4)), False)
    report = [("A", date(2026, 2, 18), "UKVI-1", "visa_team")]
    assert row(inputs(points, activity, reports=report), date(2026, 3, 1))["status"] == "reported"
    # misses after 24 Feb: 2, 9, 16, 23, 30 Mar, 6, 13, 20, 27 Apr, 4 May -> the 10th is 4 May
    at = row(inputs(points, activity, reports=report), date(2026, 5, 6))
    assert at["status"] == "threshold_crossed"
    assert at["threshold_crossed_on"] == date(2026, 5, 4)
    assert at["reported_on"] == date(2026, 2, 18)


def test_urgency_puts_overdue_reports_first():
    statuses = pd.DataFrame(
        {
            "student_id": ["a", "b", "c", "d"],
            "status": ["at_risk", "threshold_crossed", "threshold_crossed", "compliant"],
            "overdue": [False, False, True, False],
            "report_due_by": [None, date(2026, 3, 1), date(2026, 2, 1), None],
            "days_without_engagement": [20, 60, 70, 1],
        }
    )
    assert list(by_urgency(statuses)["student_id"]) == ["c", "b", "a", "d"]


@pytest.mark.parametrize("students", [("A", "B", "C")])
def test_students_are_computed_independently(students):
    points, activity = attending_until_mid_november()
    inp = inputs(points, activity + [("B", date(2025, 11, 10))], students=students)
    result = compute(inp, Thresholds(), date(2026, 2, 20), WORKDAYS).statuses.set_index(
        "student_id"
    )
    assert result.loc["A", "threshold_crossed_on"] == date(2026, 2, 16)
    assert result.loc["B", "threshold_crossed_on"] == date(2026, 2, 8)
    assert result.loc["C", "last_engagement_on"] is None
    assert result.loc["C", "expected_points"] == 0
