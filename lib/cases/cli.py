"""The `cases` command (SPEC §8): one row per case at an as-of date, as CSV or JSON."""

from __future__ import annotations

import json
from datetime import date
from typing import TextIO

from lib.cases.queries import cases_frame, cli_frame, filter_state
from lib.safe_csv import neutralise_frame
from lib.store.db import session_scope


def cases_command(as_of: date | None, state: str, fmt: str, out: TextIO) -> int:
    with session_scope() as session:
        frame = cli_frame(filter_state(cases_frame(session, as_of=as_of), state))
    if fmt == "json":
        out.write(json.dumps(frame.to_dict(orient="records"), indent=1) + "\n")
    else:
        neutralise_frame(frame).to_csv(out, index=False)
    return 0
