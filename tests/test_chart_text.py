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
