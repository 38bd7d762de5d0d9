"""Plotly specs handed to st.plotly_chart without a second validation."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go


def prepared(spec: dict[str, Any] | go.Figure) -> go.Figure:
    """A figure of a spec that lib.charts built (validated there, then cached as a dict), not
    validated again: st.plotly_chart validates every dict it is given by building a Figure from it,
    which cost about 80 ms of CPU for the Student page's five charts, more than all its cached
    reads. The chart sent to the browser is the same JSON either way."""
    if isinstance(spec, go.Figure):
        return spec
    return go.Figure(spec, _validate=False)
