"""Charts handed to st.plotly_chart as prepared specs reach the browser as the same JSON."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pandas as pd
import plotly.io
import plotly.tools

from lib import charts
from lib.ui.figure import prepared
from tests.test_charts import _measures


def _sent(figure_or_data) -> dict:
    """The spec st.plotly_chart writes into its message (streamlit/elements/plotly_chart.py)."""
    figure = plotly.tools.return_figure_from_figure_or_data(figure_or_data, validate_figure=True)
    return json.loads(plotly.io.to_json(figure, validate=False))


def _specs() -> list[dict]:
    measures = _measures()
    flags = pd.DataFrame(
        {
            "week_start": [measures["week_start"].iloc[4]],
            "ended_week": [None],
            "kind": ["index_drop"],
            "severity": ["high"],
            "explanation": ["fell"],
            "recovery_explanation": [None],
        }
    )
    calendar = pd.DataFrame(
        {
            "kind": ["reading_week"],
            "start": [date(2025, 10, 13)],
            "end": [date(2025, 10, 17)],
            "label": ["Reading week"],
        }
    )
    exemptions = pd.DataFrame(
        {"start": [date(2025, 10, 1)], "end": [date(2025, 10, 9)], "reason": ["illness"]}
    )
    markers = pd.DataFrame({"when": [datetime(2025, 10, 8, 10)], "label": ["step 1 · contact"]})
    timelines = [
        charts.student_timeline(
            measures,
            source,
            flags=flags,
            calendar=calendar,
            exemptions=exemptions,
            markers=markers,
            x_range=charts.week_axis_range(measures),
        ).to_plotly_json()
        for source in ("vle", "submission")
    ]
    weeks = [date(2025, 9, 29) + timedelta(weeks=w) for w in range(3)]
    rel = pd.DataFrame(
        {
            "student_id": ["S1", "S1", "S2", "S2"],
            "week_start": [weeks[0], weeks[1], weeks[0], weeks[2]],
            "ratio": [1.0, 0.4, 0.9, None],
            "teaching": [True, True, True, False],  # a vacation week: shaded
        }
    )
    heatmap = charts.relative_heatmap(rel, ["S1", "S2"], weeks).to_plotly_json()
    return [*timelines, heatmap]


def test_a_prepared_spec_is_sent_as_the_same_json_as_the_spec_itself():
    for spec in _specs():
        assert _sent(prepared(spec)) == _sent(spec)
        assert _sent(prepared(spec))["layout"]["shapes"]  # shaded weeks, not an empty figure


def _options() -> dict:
    """A student's chart options with every kind of mark: flag, vacation, exemption, contact."""
    measures = _measures()
    weeks = sorted(measures["week_start"].unique())
    return {
        "flags": pd.DataFrame(
            {"week_start": [weeks[4]], "ended_week": [None], "kind": ["index_drop"]}
        ),
        "calendar": pd.DataFrame(
            {"kind": ["reading_week"], "start": [date(2025, 10, 13)], "end": [date(2025, 10, 17)]}
        ),
        "exemptions": pd.DataFrame({"start": [date(2025, 10, 1)], "end": [date(2025, 10, 9)]}),
        "median": measures.rename(columns={"value": "median"})[["week_start", "source", "median"]],
        "markers": pd.DataFrame(
            {"when": [datetime(2025, 10, 8, 10), datetime(2025, 10, 21, 9)], "label": ["a", "b"]}
        ),
        "x_range": charts.week_axis_range(measures),
    }


def test_a_spec_built_without_plotly_validation_is_sent_as_the_validated_figure_is():
    measures = _measures()
    parts = charts.by_source(measures)
    assert set(parts) == {"vle", "submission"}
    options = _options()
    for source, part in parts.items():
        assert part["week_start"].is_monotonic_increasing and set(part["source"]) == {source}
        for chosen in ({}, options):
            spec = charts.student_timeline_spec(part, source, **chosen)
            figure = charts.student_timeline(measures, source, **chosen)
            assert _sent(prepared(spec)) == _sent(figure)
        words = {k: options[k] for k in ("flags", "markers")}
        assert charts.source_summary(part, source, **words) == charts.timeline_summary(
            measures, source, **words
        )
    weeks = [date(2025, 9, 29) + timedelta(weeks=w) for w in range(3)]
    rel = pd.DataFrame(
        {
            "student_id": ["S1", "S2"],
            "week_start": [weeks[0], weeks[2]],
            "ratio": [0.4, 1.2],
            "teaching": [True, False],
        }
    )
    counts = pd.DataFrame(
        {"kind": ["index_drop", "missed"], "severity": ["high", "low"], "students": [3, 1]}
    )
    trend = pd.DataFrame(
        {"week_start": weeks[:2] * 2, "kind": ["a", "a", "b", "b"], "students": [1, 2, 0, 4]}
    )
    for spec, figure in (
        (
            charts.relative_heatmap_spec(rel, ["S1", "S2"], weeks),
            charts.relative_heatmap(rel, ["S1", "S2"], weeks),
        ),
        (charts.flag_counts_bar_spec(counts), charts.flag_counts_bar(counts)),
        (charts.flag_trend_spec(trend), charts.flag_trend(trend)),
    ):
        assert _sent(prepared(spec)) == _sent(figure)
        assert spec["layout"]["template"] == figure.to_plotly_json()["layout"]["template"]


def test_a_figure_is_passed_unchanged():
    figure = charts.student_timeline(_measures(), "vle")
    assert prepared(figure) is figure
