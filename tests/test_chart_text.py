"""Text alternatives of charts (lib/ui/chart_text.py) describe what the chart plots."""

from __future__ import annotations

import plotly.graph_objects as go

from lib.ui.chart_text import PREFIX, describe


def test_bar_chart_lists_its_values():
    figure = go.Figure(go.Bar(x=["index_drop", "no_engagement"], y=[3, 1], name="flags"))
    figure.update_layout(title="Students flagged, by kind")
    text = describe(figure)
    assert text.startswith(f"{PREFIX} Students flagged, by kind.")
    assert "index_drop: 3" in text and "no_engagement: 1" in text


def test_long_line_is_summarised_by_range_and_extremes():
    weeks = [f"2025-09-{d:02d}" for d in range(1, 21)]
    figure = go.Figure(go.Scatter(x=weeks, y=list(range(20)), name="new flags"))
    text = describe(figure)
    assert "new flags: 20 points from 2025-09-01 to 2025-09-20" in text
    assert "highest 19, lowest 0" in text


def test_heatmap_gives_its_size_and_value_range():
    figure = go.Figure(go.Heatmap(z=[[0.1, 0.5], [1.2, None]], x=["w1", "w2"], y=["S1", "S2"]))
    assert "a grid of 2 rows by 2 columns, values 0.1 to 1.2" in describe(figure)


def test_empty_figure_says_so():
    assert describe(go.Figure()) == f"{PREFIX} no data."


def test_the_cohort_charts_as_sent_are_described_with_their_values():
    """The charts as the pages send them: numeric arrays packed as typed arrays (base64)."""
    from datetime import date, timedelta

    import pandas as pd

    from lib import charts

    counts = pd.DataFrame(
        {"kind": ["index_drop", "missed"], "severity": ["high", "low"], "students": [3, 1]}
    )
    spec = charts.flag_counts_bar_spec(counts)
    assert "bdata" in spec["data"][0]["y"]  # what the words are read from
    text = describe(spec)
    assert "high: index_drop: 3" in text and "low: missed: 1" in text and "dtype" not in text
    weeks = [date(2025, 9, 29) + timedelta(weeks=w) for w in range(3)]
    rel = pd.DataFrame(
        {
            "student_id": ["S1", "S2", "S2"],
            "week_start": [weeks[0], weeks[1], weeks[2]],
            "ratio": [0.4, 1.25, 0.9],
            "teaching": [True, True, True],
        }
    )
    text = describe(charts.relative_heatmap_spec(rel, ["S1", "S2"], weeks))
    assert "a grid of 2 rows by 3 columns, values 0.4 to 1.25" in text
    trend = pd.DataFrame(
        {"week_start": weeks[:2], "kind": ["index_drop", "index_drop"], "students": [2, 5]}
    )
    assert "index_drop: 2025-09-29: 2; 2025-10-06: 5" in describe(charts.flag_trend_spec(trend))
