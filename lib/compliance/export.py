"""Compliance evidence as CSV (spreadsheet-formula neutralised) and as a printable HTML summary."""

from __future__ import annotations

import html
from datetime import date

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """A text cell a spreadsheet would run as a formula, prefixed with a quote (other values as-is).

    Minimal stand-in until the shared helper of engineer `secure` (lib/safe_csv.py) is on main."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_csv(frame: pd.DataFrame) -> bytes:
    """The frame as UTF-8 CSV with every text cell and header neutralised."""
    out = frame.copy()
    out.columns = [neutralise(str(c)) for c in out.columns]
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(neutralise)
    return out.to_csv(index=False).encode("utf-8")


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row)
        + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:12px}"
    "td,th{border:1px solid #999;padding:2px 6px;text-align:left}"
    "@media print{h1{font-size:18px}}"
)


def html_page(
    title: str, sections: list[tuple[str, pd.DataFrame | str]], made_on: date, by: str
) -> bytes:
    """A self-contained printable page (no script, no outside resource); every value escaped."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Made on {made_on.isoformat()} by {html.escape(by)}. Contains personal data: handle "
        "under the university's data-protection policy.</p>",
    ]
    for heading, content in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if isinstance(content, pd.DataFrame):
            parts.append(_table(content) if not content.empty else "<p>None.</p>")
        else:
            parts.append(f"<p>{html.escape(content)}</p>")
    parts.append("</body></html>")
    return "".join(parts).encode("utf-8")
