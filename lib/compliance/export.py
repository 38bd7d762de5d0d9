"""Compliance evidence as CSV (spreadsheet-formula neutralised) and as a printable HTML summary."""

from __future__ import annotations

import html
from datetime import date

import pandas as pd

from lib.safe_csv import to_csv


def safe_csv(frame: pd.DataFrame) -> bytes:
    """The frame as UTF-8 CSV, spreadsheet formulas neutralised (lib.safe_csv)."""
    return to_csv(frame).encode("utf-8")


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
