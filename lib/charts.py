"""Plotly figures for the pages: heatmap, trend, per-source timelines, coverage and calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from _plotly_utils.basevalidators import copy_to_readonly_numpy_array
from _plotly_utils.utils import convert_to_base64

from lib.access import AUTHORISED_ABSENCE

GREY = "#d9d9d9"
FLAG_COLOUR = "rgba(214, 39, 40, 0.18)"
VACATION_COLOUR = "rgba(127, 127, 127, 0.15)"
EXEMPTION_COLOUR = "rgba(31, 119, 180, 0.15)"
NON_TEACHING_KINDS = ("vacation", "reading_week", "exam", "bank_holiday")
Chart = tuple[list[dict], dict]  # a figure's traces and layout, as plain specs
_ARRAYS = (pd.Series, pd.Index, np.ndarray)


def figure_spec(chart: Chart) -> dict[str, Any]:
    """What `go.Figure(data=..., layout=...).to_plotly_json()` gives for these specs (the same
    JSON: tests/test_ui_figure.py) without Plotly validating every property of every trace (the
    Student page's five charts spent more CPU there than in all their reads): each array as its
    validator copies it, numbers packed as Figure.to_dict packs them, and the default template."""
    data, layout = chart
    spec = {
        "data": [
            {k: _array(v) if isinstance(v, _ARRAYS) else v for k, v in t.items()} for t in data
        ],
        "layout": {**layout, **_default_template()},
    }
    convert_to_base64(spec)
    return spec


def _array(values: pd.Series | pd.Index | np.ndarray) -> np.ndarray:
    """A trace's array as Plotly's validator copies it (copy_to_readonly_numpy_array): numbers
    and naive dates, the columns of these charts, without its per-call conversion machinery;
    anything else through it."""
    if isinstance(values, pd.Series | pd.Index):
        if not (isinstance(values.dtype, np.dtype) and values.dtype.kind in "uifM"):
            return copy_to_readonly_numpy_array(values)
        values = values.to_numpy()
    if values.dtype.kind not in "uifM":
        return copy_to_readonly_numpy_array(values)
    out = np.array(values, copy=True, order="C")
    out.flags.writeable = False
    return out


@cache
def _default_template() -> dict[str, Any]:
    """The template a new Figure's layout carries (only read: specs share it)."""
    layout = go.Figure().to_plotly_json()["layout"]
    return {"template": layout["template"]} if "template" in layout else {}


def _figure(chart: Chart) -> go.Figure:
    data, layout = chart
    return go.Figure(data=data, layout=layout)


def relative_heatmap(
    rel: pd.DataFrame, students: list[str], weeks: list[date], labels: dict[str, str] | None = None
) -> go.Figure:
    """Students × weeks, coloured by engagement relative to each student's own baseline.

    Non-teaching weeks are greyed (no colour) and missing weeks stay blank."""
    return _figure(_relative_heatmap(rel, students, weeks, labels))


def relative_heatmap_spec(
    rel: pd.DataFrame, students: list[str], weeks: list[date], labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """`relative_heatmap` as its spec (`figure_spec`)."""
    return figure_spec(_relative_heatmap(rel, students, weeks, labels))


def _relative_heatmap(
    rel: pd.DataFrame, students: list[str], weeks: list[date], labels: dict[str, str] | None
) -> Chart:
    labels = labels or {}
    week_keys = [w.isoformat() for w in weeks]
    grid = pd.DataFrame(index=students, columns=week_keys, dtype=float)
    teaching = {w: True for w in week_keys}
    if not rel.empty:
        frame = rel.assign(week=pd.to_datetime(rel["week_start"]).dt.date.astype(str))
        for week, flag in frame.groupby("week")["teaching"].max().items():
            teaching[week] = bool(flag)
        pivot = frame.pivot_table(
            index="student_id", columns="week", values="ratio", aggfunc="mean"
        )
        grid.update(pivot.reindex(index=students, columns=week_keys))
    for week, is_teaching in teaching.items():
        if not is_teaching and week in grid.columns:
            grid[week] = float("nan")
    y = [labels.get(s, s) for s in students]
    heatmap = {
        "type": "heatmap",
        "z": grid.to_numpy(dtype=float),
        "x": week_keys,
        "y": y,
        "zmin": 0,
        "zmax": 2,
        "colorscale": [[0, "#b2182b"], [0.35, "#f4a582"], [0.5, "#f7f7f7"], [1, "#2166ac"]],
        "colorbar": {"title": {"text": "vs own<br>baseline"}, "tickvals": [0, 0.5, 1, 1.5, 2]},
        "hovertemplate": "%{y}<br>week %{x}<br>%{z:.0%} of own baseline<extra></extra>",
        "xgap": 1,
        "ygap": 1,
    }
    shapes = [
        _across(_shift(week, -0.5), _shift(week, 0.5))
        | {"fillcolor": GREY, "opacity": 0.8, "line": {"width": 0}, "layer": "below"}
        for week, is_teaching in teaching.items()
        if not is_teaching
    ]
    layout = {
        "height": max(260, 22 * len(students) + 120),
        "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
        "plot_bgcolor": GREY,
        "yaxis": {"autorange": "reversed", "type": "category"},
        "xaxis": {"type": "category", "title": {"text": "week starting"}},
        "title": {
            "text": "Engagement relative to own baseline (grey: non-teaching week or no data)"
        },
    }
    if shapes:
        layout["shapes"] = shapes
    # one spec: each add_vrect/update_layout validated the whole figure again
    return [heatmap], layout


def _shift(week_iso: str, weeks: float) -> str:
    return (date.fromisoformat(week_iso) + timedelta(days=7 * weeks)).isoformat()


def flag_counts_bar(counts: pd.DataFrame) -> go.Figure:
    """Students with a flag in force, by kind and severity."""
    return _figure(_flag_counts_bar(counts))


def flag_counts_bar_spec(counts: pd.DataFrame) -> dict[str, Any]:
    """`flag_counts_bar` as its spec (`figure_spec`)."""
    return figure_spec(_flag_counts_bar(counts))


def _flag_counts_bar(counts: pd.DataFrame) -> Chart:
    colours = {"high": "#b2182b", "medium": "#ef8a62", "low": "#fddbc7"}
    data = []
    for severity in ("high", "medium", "low"):
        part = counts[counts["severity"] == severity]
        data.append(
            {
                "type": "bar",
                "x": part["kind"],
                "y": part["students"],
                "name": severity,
                "marker": {"color": colours[severity]},
            }
        )
    layout = {
        "barmode": "stack",
        "height": 280,
        "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
        "title": {"text": "Students flagged, by kind"},
    }
    return data, layout


def flag_trend(trend: pd.DataFrame) -> go.Figure:
    """New flags per week by kind over the year."""
    return _figure(_flag_trend(trend))


def flag_trend_spec(trend: pd.DataFrame) -> dict[str, Any]:
    """`flag_trend` as its spec (`figure_spec`)."""
    return figure_spec(_flag_trend(trend))


def _flag_trend(trend: pd.DataFrame) -> Chart:
    data = [
        {
            "type": "scatter",
            "x": part["week_start"],
            "y": part["students"],
            "mode": "lines+markers",
            "name": kind,
        }
        for kind, part in trend.groupby("kind")
    ]
    layout = {
        "height": 280,
        "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
        "title": {"text": "New flags per week"},
    }
    return data, layout


@dataclass(frozen=True)
class SourceLabel:
    """How staff name a source on the Student page, and the unit of its weekly value."""

    title: str
    unit: str
    percent: bool = False  # the value is a rate 0..1 shown as a percentage


SOURCE_LABELS: dict[str, SourceLabel] = {
    "index": SourceLabel("Engagement index (all sources)", "% of own usual level", True),
    "attendance": SourceLabel("Attendance (QR scans)", "% of sessions attended", True),
    "online": SourceLabel("Teams online sessions", "% of sessions joined", True),
    "vle": SourceLabel("Moodle", "active days per week"),
    "submission": SourceLabel("Submissions", "% handed in on time", True),
    "lecture_capture": SourceLabel("Lecture capture (Echo360)", "minutes watched per week"),
}
COUNT_LABELS = {  # attendance/online of a student with no timetabled sessions: a count
    "attendance": SourceLabel("Attendance (QR scans)", "sessions attended per week"),
    "online": SourceLabel("Teams online sessions", "online sessions joined per week"),
}
MARKER_COLOUR = "#6a3d9a"
WEEK_AXIS_TITLE = "teaching week (starting Monday)"


def source_label(source: str, measured_by_count: bool = False) -> SourceLabel:
    """The staff name and unit of a source (a generic source keeps its own word)."""
    if measured_by_count and source in COUNT_LABELS:
        return COUNT_LABELS[source]
    return SOURCE_LABELS.get(
        source, SourceLabel(source.replace("_", " ").capitalize(), "events per week")
    )


def week_axis_range(measures: pd.DataFrame) -> tuple[date, date] | None:
    """The one week axis shared by every chart of a student: first to last week with results."""
    if measures.empty:
        return None
    weeks = pd.to_datetime(measures["week_start"])
    return weeks.min().date() - timedelta(days=3), weeks.max().date() + timedelta(days=7)


def by_source(measures: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each source's rows of one student's measures, by week: split once for all the charts and
    summaries of a page (a comparison of the arrow-backed source column per chart cost more)."""
    ordered = measures.sort_values("week_start", kind="stable")
    return {str(source): part for source, part in ordered.groupby("source", sort=False)}


def _source_part(measures: pd.DataFrame, source: str) -> pd.DataFrame:
    return measures[measures["source"] == source].sort_values("week_start")


def _source_rows(part: pd.DataFrame, source: str) -> tuple[pd.DataFrame, bool]:
    """Of one source's rows (by week), the weeks to draw, and whether it is measured by a count
    rather than a rate.

    A rate source (submissions, sessions) is measured only in weeks with something due or
    timetabled: its baseline is drawn in those weeks alone, as the explanation quotes it."""
    expected = pd.to_numeric(part["expected"], errors="coerce")
    by_count = source in COUNT_LABELS and not (expected > 0).any()
    if source == "submission" or (source in COUNT_LABELS and not by_count):
        part = part[expected > 0]
    return part, by_count


def student_timeline(measures: pd.DataFrame, source: str, **options: Any) -> go.Figure:
    """One source's weekly values with the baseline band, flagged weeks, vacations, exemptions and
    the student's case contacts and ladder steps (`markers`: when, label), on a shared week axis
    (the options of `_timeline`)."""
    return _figure(_timeline(_source_part(measures, source), source, **options))


def student_timeline_spec(part: pd.DataFrame, source: str, **options: Any) -> dict[str, Any]:
    """`student_timeline` as its spec (`figure_spec`), of one source's rows (`by_source`)."""
    return figure_spec(_timeline(part, source, **options))


def _timeline(
    rows: pd.DataFrame,
    source: str,
    *,
    flags: pd.DataFrame | None = None,
    calendar: pd.DataFrame | None = None,
    exemptions: pd.DataFrame | None = None,
    median: pd.DataFrame | None = None,
    markers: pd.DataFrame | None = None,
    x_range: tuple[date, date] | None = None,
) -> Chart:
    """One spec (Plotly's add_*/update_* calls each re-validate the figure: four times the CPU,
    on every Student page a server renders)."""
    part, by_count = _source_rows(rows, source)
    label = source_label(source, by_count)
    x = pd.to_datetime(part["week_start"])
    usual = pd.to_numeric(part["baseline"], errors="coerce")
    low = pd.to_numeric(part["baseline_low"], errors="coerce").clip(lower=0)
    high = pd.to_numeric(part["baseline_high"], errors="coerce")
    if label.percent and source != "index":  # a rate's usual range stops at 100%
        high = high.clip(upper=1.0)
    value_format = ".0%" if label.percent else ".3~g"
    band = {"type": "scatter", "x": x, "mode": "lines", "line": {"width": 0}, "hoverinfo": "skip"}
    data: list[dict] = [
        {**band, "y": high, "showlegend": False},
        {
            **band,
            "y": low,
            "fill": "tonexty",
            "fillcolor": "rgba(44, 160, 44, 0.2)",
            "name": "usual range (own baseline)",
        },
        {
            "type": "scatter",
            "x": x,
            "y": usual,
            "mode": "lines+markers",
            "marker": {"size": 5},
            "line": {"dash": "dot", "color": "green"},
            "name": "usual level",
            "hovertemplate": f"usual: %{{y:{value_format}}}<extra></extra>",
        },
        {
            "type": "scatter",
            "x": x,
            "y": part["value"],
            "mode": "lines+markers",
            "line": {"color": "#1f77b4"},
            "name": label.title,
            "hovertemplate": f"week of %{{x|%d %b %Y}}: %{{y:{value_format}}} {label.unit}"
            "<extra></extra>",
        },
    ]
    if median is not None and not median.empty:
        med = median[median["source"] == source].sort_values("week_start")
        data.append(
            {
                "type": "scatter",
                "x": pd.to_datetime(med["week_start"]),
                "y": med["median"],
                "mode": "lines",
                "line": {"color": "#999", "dash": "dash"},
                "name": "course median (context)",
            }
        )
    last_week = part["week_start"].max() if not part.empty else None
    shapes, annotations = _shading(calendar, exemptions, flags, last_week)
    layout: dict = {}
    if markers is not None and not markers.empty:
        data.append(_contact_marks(markers, shapes))
        layout["yaxis2"] = {
            "overlaying": "y",
            "range": [0, 1],
            "visible": False,
            "fixedrange": True,
        }
    if x_range is None and not part.empty:  # the weeks with results, not the whole calendar
        x_range = (x.min().date() - timedelta(days=3), x.max().date() + timedelta(days=7))
    xaxis: dict = {"title": {"text": WEEK_AXIS_TITLE}, "type": "date"}
    if x_range is not None:
        xaxis["range"] = [x_range[0].isoformat(), x_range[1].isoformat()]
    yaxis: dict = {"title": {"text": label.unit}}
    if label.percent:
        yaxis["tickformat"] = ".0%"
    if label.percent or source == "vle":
        yaxis["rangemode"] = "tozero"
    if "yaxis2" in layout:  # the y-axis settings reach the hidden marker axis too (unseen there)
        layout["yaxis2"] = {**layout["yaxis2"], **yaxis}
    layout |= {
        "xaxis": xaxis,
        "yaxis": yaxis,
        "height": 300,
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "title": {"text": label.title},
        "legend": {"orientation": "h", "y": -0.35},
        "hovermode": "closest",
    }
    if shapes:
        layout["shapes"] = shapes
    if annotations:
        layout["annotations"] = annotations
    return data, layout


def _contact_marks(markers: pd.DataFrame, shapes: list[dict]) -> dict:
    """Vertical lines (added to `shapes`) at each contact and ladder step, and the trace with the
    channel/outcome/step on hover (a hidden 0..1 axis carries it at the top of the chart)."""
    when = pd.to_datetime(markers["when"])
    for moment in when:
        shapes.append(
            _across(moment.isoformat(), moment.isoformat(), "line")
            | {"line": {"color": MARKER_COLOUR, "width": 1, "dash": "dot"}}
        )
    return {
        "type": "scatter",
        "x": when,
        "y": [0.97] * len(markers),
        "yaxis": "y2",
        "mode": "markers",
        "marker": {"symbol": "triangle-down", "size": 11, "color": MARKER_COLOUR},
        "name": "case contacts and steps",
        "hovertext": list(markers["label"]),
        "hovertemplate": "%{x|%d %b %Y}: %{hovertext}<extra></extra>",
    }


def timeline_summary(measures: pd.DataFrame, source: str, **options: Any) -> str:
    """A short text alternative of one chart: what it shows, the latest week against the usual
    level, the lowest week, flagged weeks and the contacts marked (`flags`, `markers`)."""
    return source_summary(_source_part(measures, source), source, **options)


def source_summary(
    rows: pd.DataFrame,
    source: str,
    *,
    flags: pd.DataFrame | None = None,
    markers: pd.DataFrame | None = None,
) -> str:
    """`timeline_summary` of one source's rows (`by_source`)."""
    part, by_count = _source_rows(rows, source)
    label = source_label(source, by_count)
    part = part[pd.to_numeric(part["value"], errors="coerce").notna()]
    if part.empty:
        return f"{label.title}: no week measured yet."

    def show(value) -> str:
        value = float(value)
        if pd.isna(value):
            return "not known"
        return f"{value:.0%}" if label.percent else f"{value:.3g}"

    first, last = part.iloc[0], part.iloc[-1]
    low = part.loc[pd.to_numeric(part["value"]).idxmin()]
    text = (
        f"{label.title}, {label.unit}: {len(part)} week(s) measured from the week of "
        f"{_day(first.week_start)} to the week of {_day(last.week_start)}. Latest "
        f"{show(last.value)} (usually {show(last.baseline)}); lowest {show(low.value)} in the "
        f"week of {_day(low.week_start)}."
    )
    if flags is not None and not flags.empty:
        text += f" {len(flags)} flag(s) shaded."
    if markers is not None and not markers.empty:
        text += f" {len(markers)} case contact(s) or step(s) marked."
    return text


def _day(value) -> str:
    return pd.Timestamp(value).strftime("%d %b %Y")


def _across(x0, x1, kind: str = "rect") -> dict:
    """A shape spanning the plot's height from x0 to x1 (what Plotly's add_vrect/add_vline add)."""
    return {"type": kind, "x0": x0, "x1": x1, "xref": "x", "y0": 0, "y1": 1, "yref": "y domain"}


def _band(x0, x1, colour: str) -> dict:
    return _across(x0, x1) | {"fillcolor": colour, "line": {"width": 0}, "layer": "below"}


def _shading(calendar, exemptions, flags, last_week) -> tuple[list[dict], list[dict]]:
    """The shaded weeks (shapes: vacations, exemptions, flags) and the exemptions' labels."""
    shapes: list[dict] = []
    annotations: list[dict] = []
    if calendar is not None:
        for row in calendar.itertuples():
            if row.kind in NON_TEACHING_KINDS:
                shapes.append(_band(row.start, row.end, VACATION_COLOUR))
    if exemptions is not None:
        for row in exemptions.itertuples():
            shapes.append(_band(row.start, row.end, EXEMPTION_COLOUR))
            annotations.append(
                {
                    # the reason only reaches a chart for a role that may see welfare information
                    "text": getattr(row, "reason", None) or AUTHORISED_ABSENCE,
                    "showarrow": False,
                    "x": row.start,
                    "xref": "x",
                    "xanchor": "left",
                    "y": 1,
                    "yref": "y domain",
                    "yanchor": "top",
                }
            )
    if flags is not None:
        for row in flags.itertuples():
            # a flag still in force is shaded up to the latest week with results
            end = row.ended_week or max(row.week_start, last_week or row.week_start)
            shapes.append(_band(row.week_start, end + timedelta(days=7), FLAG_COLOUR))
    return shapes, annotations


def coverage_heatmap(coverage: pd.DataFrame) -> go.Figure:
    """Activity rows per source per week: a missing export shows as a gap."""
    pivot = coverage.pivot_table(index="source", columns="week_start", values="rows", aggfunc="sum")
    fig = go.Figure(
        go.Heatmap(
            z=pivot.to_numpy(dtype=float),
            x=[str(c) for c in pivot.columns],
            y=list(pivot.index),
            colorscale="Blues",
            hovertemplate="%{y}<br>week %{x}<br>%{z} rows<extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    fig.update_layout(
        height=120 + 30 * len(pivot.index),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        title="Coverage: activity rows per source per week (blank = nothing loaded)",
        plot_bgcolor="#fff3f3",
    )
    return fig


def calendar_timeline(calendar: pd.DataFrame) -> go.Figure:
    """The term calendar as a timeline of periods."""
    fig = go.Figure()
    colours = {
        "term": "#2ca02c",
        "vacation": "#7f7f7f",
        "reading_week": "#ff7f0e",
        "exam": "#9467bd",
        "bank_holiday": "#d62728",
    }
    for row in calendar.itertuples():
        end = pd.Timestamp(row.end) + pd.Timedelta(days=1)
        fig.add_scatter(
            x=[pd.Timestamp(row.start), end],
            y=[row.kind, row.kind],
            mode="lines",
            line={"width": 14, "color": colours.get(row.kind, "#1f77b4")},
            name=row.label or row.kind,
            showlegend=False,
            hovertemplate=f"{row.label or row.kind}: {row.start} to {row.end}<extra></extra>",
        )
    fig.update_layout(
        height=260, margin={"l": 10, "r": 10, "t": 30, "b": 10}, title="Term calendar"
    )
    return fig
