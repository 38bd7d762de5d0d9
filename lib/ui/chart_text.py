"""A text alternative for any plotly chart (WCAG 1.1.1): what it plots, in words, under the chart."""

from __future__ import annotations

import base64
import math

import numpy as np
import streamlit as st

from lib.ui.figure import prepared

PREFIX = "Chart in words:"
MAX_TRACES = 6


def _number(value) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return "none"
    return f"{number:.3g}"


def typed_array(values: dict) -> np.ndarray:
    """A Plotly typed array ({"dtype", "bdata", "shape"}, base64: how numeric arrays are sent)
    as numpy."""
    flat = np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
    return flat.reshape([int(n) for n in str(values.get("shape", len(flat))).split(",")])


def _plain(values) -> list:
    """A trace's array as a list (a typed array reads as its keys when iterated)."""
    if values is None:
        return []
    if isinstance(values, dict) and "bdata" in values:
        return typed_array(values).tolist()
    return list(values)


def _values(trace: dict, axis: str) -> list:
    return [v for v in _plain(trace.get(axis)) if v is not None]


def _trace_words(trace: dict) -> str:
    name = trace.get("name") or trace.get("type", "series")
    if trace.get("type") == "heatmap":
        rows = _values(trace, "y")
        cols = _values(trace, "x")
        cells = [v for row in _plain(trace.get("z")) for v in row if v is not None]
        numbers = [float(v) for v in cells if isinstance(v, int | float) and not math.isnan(v)]
        span = f", values {_number(min(numbers))} to {_number(max(numbers))}" if numbers else ""
        return f"a grid of {len(rows)} rows by {len(cols)} columns{span}"
    xs, ys = _values(trace, "x"), _values(trace, "y")
    if trace.get("orientation") == "h":
        xs, ys = ys, xs
    if not xs:
        return f"{name}: no values"
    pairs = list(zip(xs, ys, strict=False))
    if len(pairs) <= 6:
        listed = "; ".join(f"{x}: {_number(y)}" for x, y in pairs)
        return f"{name}: {listed}"
    numbers = [float(y) for y in ys if isinstance(y, int | float) and not math.isnan(y)]
    high = f", highest {_number(max(numbers))}, lowest {_number(min(numbers))}" if numbers else ""
    return f"{name}: {len(pairs)} points from {xs[0]} to {xs[-1]}{high}"


def describe(figure) -> str:
    """The chart's title and each series (or grid) summarised in one sentence each."""
    data = figure.to_plotly_json() if hasattr(figure, "to_plotly_json") else dict(figure)
    layout = data.get("layout", {})
    title = layout.get("title", {})
    title = title.get("text") if isinstance(title, dict) else title
    traces = [t for t in data.get("data", []) if t.get("visible", True) is not False]
    parts = [_trace_words(t) for t in traces[:MAX_TRACES]]
    if len(traces) > MAX_TRACES:
        parts.append(f"and {len(traces) - MAX_TRACES} more series")
    head = f"{title}. " if title else ""
    return f"{PREFIX} {head}" + ("; ".join(parts) if parts else "no data") + "."


def chart_in_words(figure, container=st) -> None:
    """Render the text alternative under a chart (plain text: trace names are not Markdown)."""
    container.text(describe(figure))


def chart_with_words(figure, key: str) -> None:
    """A chart and its text alternative under it."""
    st.plotly_chart(prepared(figure), key=key)
    chart_in_words(figure)
