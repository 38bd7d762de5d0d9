"""Plotly specs handed to st.plotly_chart without being validated and copied again."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go


class PreparedFigure(go.Figure):
    """A figure standing for a spec that lib.charts built (`figure_spec`: the JSON a validated
    figure gives), cached as a dict.

    st.plotly_chart validates every dict it is given by building a Figure from it (about 80 ms of
    CPU for the Student page's five charts, more than all its cached reads), and takes a Figure's
    spec from `to_dict()`, a deep copy: this figure hands over the cached spec itself, which the
    chart's JSON is then written from (the same JSON either way: tests/test_ui_figure.py). Only
    for rendering: it holds no traces or layout of its own."""

    def __init__(self, spec: dict[str, Any]) -> None:
        # not Figure.__init__: it deep-copies the default template into the empty figure (a
        # fifth of a warm Cohort page run); st.plotly_chart only asks a figure for to_dict()
        self._prepared_spec = spec

    def to_dict(self) -> dict[str, Any]:
        return self._prepared_spec

    def to_plotly_json(self) -> dict[str, Any]:
        return self._prepared_spec


def prepared(spec: dict[str, Any] | go.Figure) -> go.Figure:
    """What to pass st.plotly_chart for a spec from lib.charts (a Figure is passed unchanged)."""
    if isinstance(spec, go.Figure):
        return spec
    return PreparedFigure(spec)
