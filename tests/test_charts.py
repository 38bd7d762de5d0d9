"""Student page charts: staff names of sources, units, one shared week axis, the submission
baseline as explained, case contacts marked (never the note), and a text alternative per chart."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pandas as pd

from lib import charts
from lib.views.student import MEASURE_COLUMNS
from tests import app_fixtures
from tests.app_fixtures import FIRST_WEEK, open_page
from tests.test_app import plotly_array

seeded = app_fixtures.seeded

NOTE = "Mentioned a bereavement in the family"


def _measures() -> pd.DataFrame:
    rows = []
    for w in range(6):
        week = FIRST_WEEK + timedelta(weeks=w)
        rows.append((week, "vle", 4.0 - w * 0.5, None, 4.0, 3.0, 5.0, False, True))
        due = 2.0 if w in (1, 4) else None
        value = (1.0 if w == 1 else 0.0) if due else None
        baseline = 1.0 if w <= 4 else 0.0  # the usual rate, then the rate after the missed week
        rows.append((week, "submission", value, due, baseline, 0.5, 1.5, False, True))
    return pd.DataFrame(rows, columns=MEASURE_COLUMNS)


def test_submission_baseline_is_the_usual_rate_of_the_weeks_with_something_due():
    fig = charts.student_timeline(_measures(), "submission").to_plotly_json()
    usual = next(t for t in fig["data"] if t.get("name") == "usual level")
    value = next(t for t in fig["data"] if t.get("name") == "Submissions")
    # only the two weeks with submissions due; the missed week's usual level is 100%, never 0
    assert plotly_array(value["y"]).tolist() == [1.0, 0.0]
    assert plotly_array(usual["y"]).tolist() == [1.0, 1.0]
    assert usual["mode"] == "lines+markers"  # a single measured week still shows its usual level
    assert fig["layout"]["yaxis"]["tickformat"] == ".0%"
    band_top = fig["data"][0]
    assert plotly_array(band_top["y"]).tolist() == [1.0, 1.0]  # a rate's usual range stops at 100%
    assert fig["layout"]["yaxis"]["title"]["text"] == "% handed in on time"


def test_every_chart_shares_one_week_axis_and_names_units():
    measures = _measures()
    x_range = charts.week_axis_range(measures)
    figures = {
        s: charts.student_timeline(measures, s, x_range=x_range).to_plotly_json()
        for s in ("vle", "submission")
    }
    ranges = {tuple(f["layout"]["xaxis"]["range"]) for f in figures.values()}
    assert ranges == {("2025-09-26", "2025-11-10")}
    assert figures["vle"]["layout"]["title"]["text"] == "Moodle"
    assert figures["vle"]["layout"]["yaxis"]["title"]["text"] == "active days per week"
    assert all(
        f["layout"]["xaxis"]["title"]["text"] == charts.WEEK_AXIS_TITLE for f in figures.values()
    )


def test_contact_markers_are_vertical_lines_with_hover_text():
    markers = pd.DataFrame(
        {
            "when": [datetime(2025, 10, 8, 10), datetime(2025, 10, 20, 9)],
            "label": ["step 1 · contact · university e-mail · no response", "step 2 · contact"],
        }
    )
    fig = charts.student_timeline(_measures(), "vle", markers=markers).to_plotly_json()
    trace = next(t for t in fig["data"] if t.get("name") == "case contacts and steps")
    assert trace["hovertext"] == list(markers["label"])
    assert trace["yaxis"] == "y2"
    lines = [s for s in fig["layout"]["shapes"] if s["type"] == "line"]
    assert [s["x0"][:10] for s in lines] == ["2025-10-08", "2025-10-20"]


def test_summary_is_a_text_alternative():
    text = charts.timeline_summary(_measures(), "submission")
    assert text == (
        "Submissions, % handed in on time: 2 week(s) measured from the week of "
        "06 Oct 2025 to the week of 27 Oct 2025. Latest 0% (usually 100%); lowest 0% in the week "
        "of 27 Oct 2025."
    )
    assert charts.timeline_summary(_measures().iloc[:0], "vle") == "Moodle: no week measured yet."


def _case_with_contact(session, student_id: str = "S001", username: str = "tut_a", track="welfare"):
    """A case opened on 18 Nov 2025 with one unanswered contact whose note is sensitive."""
    from lib.access import User
    from lib.cases.service import Contact, open_case, record_contact

    role = next(r for r, (name, _) in app_fixtures.STAFF.items() if name == username)
    user = User(username, role, school="Science", years=(1, 2))
    now = datetime(2025, 11, 18, 10)
    case = open_case(session, user, student_id, track=track, now=now)
    contact = Contact(
        contacted_at=datetime(2025, 11, 18, 10, 30),
        channel="uni_email",
        outcome="no_response",
        note=NOTE,
        next_due=date(2025, 11, 25),
    )
    record_contact(session, user, case.id, contact, now=now + timedelta(hours=1))
    session.commit()


def _figures(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_student_page_charts_have_names_units_one_axis_and_contact_markers(seeded):
    _case_with_contact(seeded)
    at = open_page("tutor", "student", {"id": "S001"})
    assert not at.exception
    figures = _figures(at)
    assert [f["layout"]["title"]["text"] for f in figures] == [
        "Engagement index (all sources)",
        "Attendance (QR scans)",
        "Moodle",
    ]
    assert {f["layout"]["yaxis"]["title"]["text"] for f in figures} == {
        "% of own usual level",
        "sessions attended per week",
        "active days per week",
    }
    assert len({tuple(f["layout"]["xaxis"]["range"]) for f in figures}) == 1
    for figure in figures:
        marks = next(t for t in figure["data"] if t.get("name") == "case contacts and steps")
        assert marks["hovertext"] == [
            "Welfare · Step 1 — Welfare e-mail · case opened",
            "Welfare · Step 1 — Welfare e-mail · contact · University e-mail · No response",
        ]
        assert NOTE not in json.dumps(figure)
    captions = [c.value for c in at.caption]
    assert sum("case contact(s) or step(s) marked" in c for c in captions) == 3


def test_visa_team_sees_its_own_track_markers_only(seeded):
    _case_with_contact(seeded, "S002", "tut_a")
    _case_with_contact(seeded, "S002", "visa_team", track="visa")
    at = open_page("visa", "student", {"id": "S002"})
    assert not at.exception
    for figure in _figures(at):
        marks = next(t for t in figure["data"] if t.get("name") == "case contacts and steps")
        assert marks["hovertext"] == [
            "Visa & Immigration · visa contact 1 · case opened",
            "Visa & Immigration · visa contact 1 · contact · University e-mail · No response",
        ]
        assert NOTE not in json.dumps(figure) and "Welfare" not in json.dumps(figure)


def test_the_weekly_table_is_a_row_per_week_newest_first_and_a_column_per_source():
    from lib.views.student import weekly_values

    measures = _measures()
    measures.loc[measures["week_start"] == FIRST_WEEK, "value"] = None  # a week with no value
    table = weekly_values(measures)
    reference = measures.pivot_table(
        index="week_start", columns="source", values="value", aggfunc="first"
    ).sort_index(ascending=False)
    pd.testing.assert_frame_equal(table, reference)
    assert list(table.columns) == ["submission", "vle"]
    assert FIRST_WEEK not in table.index and table.index[0] == FIRST_WEEK + timedelta(weeks=5)
    only_vle = measures.assign(value=measures["value"].where(measures["source"] == "vle"))
    assert list(weekly_values(only_vle).columns) == ["vle"]  # a source with no value: no column
