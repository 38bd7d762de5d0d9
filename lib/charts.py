"""Plotly figures for the pages: heatmap, trend, per-source timelines, coverage and calendar."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import plotly.graph_objects as go

from lib.access import AUTHORISED_ABSENCE

GREY = "#d9d9d9"
FLAG_COLOUR = "rgba(214, 39, 40, 0.18)"
VACATION_COLOUR = "rgba(127, 127, 127, 0.15)"
EXEMPTION_COLOUR = "rgba(31, 119, 180, 0.15)"
NON_TEACHING_KINDS = ("vacation", "reading_week", "exam", "bank_holiday")


def relative_heatmap(
    rel: pd.DataFrame, students: list[str], weeks: list[date], labels: dict[str, str] | None = None
) -> go.Figure:
    """Students × weeks, coloured by engagement relative to each student's own baseline.

    Non-teaching weeks are greyed (no colour) and missing weeks stay blank."""
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
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(dtype=float),
            x=week_keys,
            y=y,
            zmin=0,
            zmax=2,
            colorscale=[[0, "#b2182b"], [0.35, "#f4a582"], [0.5, "#f7f7f7"], [1, "#2166ac"]],
            colorbar={"title": "vs own<br>baseline", "tickvals": [0, 0.5, 1, 1.5, 2]},
            hovertemplate="%{y}<br>week %{x}<br>%{z:.0%} of own baseline<extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    for week, is_teaching in teaching.items():
        if not is_teaching:
            fig.add_vrect(
                x0=_shift(week, -0.5),
                x1=_shift(week, 0.5),
                fillcolor=GREY,
                opacity=0.8,
                line_width=0,
                layer="below",
            )
    fig.update_layout(
        height=max(260, 22 * len(students) + 120),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        plot_bgcolor=GREY,
        yaxis={"autorange": "reversed", "type": "category"},
        xaxis={"type": "category", "title": "week starting"},
        title="Engagement relative to own baseline (grey: non-teaching week or no data)",
    )
    return fig


def _shift(week_iso: str, weeks: float) -> str:
    return (date.fromisoformat(week_iso) + timedelta(days=7 * weeks)).isoformat()


def flag_counts_bar(counts: pd.DataFrame) -> go.Figure:
    """Students with a flag in force, by kind and severity."""
    fig = go.Figure()
    colours = {"high": "#b2182b", "medium": "#ef8a62", "low": "#fddbc7"}
    for severity in ("high", "medium", "low"):
        part = counts[counts["severity"] == severity]
        fig.add_bar(
            x=part["kind"], y=part["students"], name=severity, marker_color=colours[severity]
        )
    fig.update_layout(
        barmode="stack",
        height=280,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        title="Students flagged, by kind",
    )
    return fig


def flag_trend(trend: pd.DataFrame) -> go.Figure:
    """New flags per week by kind over the year."""
    fig = go.Figure()
    for kind, part in trend.groupby("kind"):
        fig.add_scatter(x=part["week_start"], y=part["students"], mode="lines+markers", name=kind)
    fig.update_layout(
        height=280, margin={"l": 10, "r": 10, "t": 30, "b": 10}, title="New flags per week"
    )
    return fig


def student_timeline(
    measures: pd.DataFrame,
    source: str,
    *,
    flags: pd.DataFrame | None = None,
    calendar: pd.DataFrame | None = None,
    exemptions: pd.DataFrame | None = None,
    median: pd.DataFrame | None = None,
) -> go.Figure:
    """One source's weekly values with the baseline band, flagged weeks, vacations and exemptions."""
    part = measures[measures["source"] == source].sort_values("week_start")
    x = pd.to_datetime(part["week_start"])
    fig = go.Figure()
    fig.add_scatter(
        x=x, y=part["baseline_high"], mode="lines", line_width=0, showlegend=False, hoverinfo="skip"
    )
    fig.add_scatter(
        x=x,
        y=part["baseline_low"],
        mode="lines",
        line_width=0,
        fill="tonexty",
        fillcolor="rgba(44, 160, 44, 0.2)",
        name="usual range (own baseline)",
    )
    fig.add_scatter(
        x=x,
        y=part["baseline"],
        mode="lines",
        line={"dash": "dot", "color": "green"},
        name="baseline",
    )
    fig.add_scatter(
        x=x, y=part["value"], mode="lines+markers", line={"color": "#1f77b4"}, name=source
    )
    if median is not None and not median.empty:
        med = median[median["source"] == source].sort_values("week_start")
        fig.add_scatter(
            x=pd.to_datetime(med["week_start"]),
            y=med["median"],
            mode="lines",
            line={"color": "#999", "dash": "dash"},
            name="course median (context)",
        )
    last_week = part["week_start"].max() if not part.empty else None
    _shade(fig, calendar, exemptions, flags, last_week)
    if not part.empty:  # the weeks with results, not the whole calendar
        fig.update_xaxes(range=[x.min() - pd.Timedelta(days=3), x.max() + pd.Timedelta(days=7)])
    fig.update_layout(
        height=260,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        title=source.replace("_", " "),
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def _shade(fig, calendar, exemptions, flags, last_week) -> None:
    if calendar is not None:
        for row in calendar.itertuples():
            if row.kind in NON_TEACHING_KINDS:
                fig.add_vrect(
                    x0=row.start, x1=row.end, fillcolor=VACATION_COLOUR, line_width=0, layer="below"
                )
    if exemptions is not None:
        for row in exemptions.itertuples():
            fig.add_vrect(
                x0=row.start,
                x1=row.end,
                fillcolor=EXEMPTION_COLOUR,
                line_width=0,
                layer="below",
                # the reason only reaches a chart for a role that may see welfare information
                annotation_text=getattr(row, "reason", None) or AUTHORISED_ABSENCE,
                annotation_position="top left",
            )
    if flags is not None:
        for row in flags.itertuples():
            # a flag still in force is shaded up to the latest week with results
            end = row.ended_week or max(row.week_start, last_week or row.week_start)
            fig.add_vrect(
                x0=row.week_start,
                x1=end + timedelta(days=7),
                fillcolor=FLAG_COLOUR,
                line_width=0,
                layer="below",
            )


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
