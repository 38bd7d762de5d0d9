"""`python -m lib config show|set`: effective settings with defaults, validated changes, recompute."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout

from sqlalchemy import select

from lib.cli import main
from lib.compute.service import load_engine_config
from lib.engagement.config import DEFAULTS, SETTINGS
from lib.store.db import session_factory
from lib.store.models import Flag, Setting

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cli(*args: str) -> subprocess.CompletedProcess:
    """`python -m lib ARGS` in a new process (the real entry point)."""
    return subprocess.run(
        [sys.executable, "-m", "lib", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def _main(*args: str) -> subprocess.CompletedProcess:
    """The same command line run in this process (no interpreter start-up per call)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def test_every_setting_is_described():
    assert len({s.name for s in SETTINGS}) == len(SETTINGS) == len(DEFAULTS)
    assert all(s.help.strip() for s in SETTINGS)
    assert DEFAULTS == {s.name: s.default for s in SETTINGS}


def test_config_show_prints_defaults_with_descriptions(sqlite_url):
    done = _cli("config", "show")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("zero_weeks = 2  # ") for line in lines)
    assert any(line.startswith("min_baseline.vle = 0.5  # ") for line in lines)
    assert not any("(default" in line for line in lines)  # nothing changed yet


def test_config_set_validates_saves_and_recomputes(sample_url, capsys):
    sqlite_url = sample_url
    with session_factory(sqlite_url)() as session:
        zero_before = session.query(Flag).filter(Flag.kind == "no_engagement").count()
    assert zero_before > 0
    assert main(["config", "set", "zero_weeks=6", "min_baseline.vle=1", "--by", "ops"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["changed"]["zero_weeks"] == {"from": 2, "to": 6}
    assert result["changed"]["min_baseline"]["to"]["vle"] == 1.0
    assert result["compute"]["mode"] == "full"
    with session_factory(sqlite_url)() as session:
        config = load_engine_config(session)
        assert config["zero_weeks"] == 6 and config["min_baseline"]["vle"] == 1.0
        assert config["min_baseline"]["attendance"] == DEFAULTS["min_baseline"]["attendance"]
        row = session.get(Setting, "engine_config")
        assert row.updated_by == "ops"
        zero_after = session.query(Flag).filter(Flag.kind == "no_engagement").count()
        texts = session.scalars(select(Flag.explanation).where(Flag.kind == "no_engagement"))
        runs = [int(re.search(r"for (\d+) consecutive teaching weeks", t).group(1)) for t in texts]
        assert runs and min(runs) >= 6  # the explanations quote the new window
    assert zero_after < zero_before  # six zero weeks are rarer than two in one autumn term
    # a second change keeps the first one; show marks both as changed
    assert main(["config", "set", "detector=ewma"]) == 0
    capsys.readouterr()
    assert main(["config", "show"]) == 0
    shown = capsys.readouterr().out
    assert "zero_weeks = 6  (default 2)" in shown and "detector = ewma  (default robust_z)" in shown
    with session_factory(sqlite_url)() as session:
        assert session.get(Setting, "engine_config").updated_by == "cli"


def test_config_set_refuses_unknown_keys_and_bad_values(sqlite_url):
    cases = [
        (["no_such_threshold=1"], "unknown engine setting 'no_such_threshold'"),
        (["zero_weeks=abc"], "'zero_weeks' must be a whole number >= 1, not 'abc'"),
        (["drop_ratio=-0.5"], "'drop_ratio' must be a number >= 0"),
        (["detector=magic"], "detector must be one of robust_z, ewma"),
        (["min_baseline=1"], "set min_baseline.SOURCE=NUMBER"),
        (["zero_weeks"], "expected KEY=VALUE"),
    ]
    for args, message in cases:
        done = _main("config", "set", "sustain_weeks=3", *args)
        assert done.returncode == 2, (args, done.stdout)
        assert message in done.stderr, (args, done.stderr)
    with session_factory(sqlite_url)() as session:  # nothing stored, not even the valid setting
        assert session.get(Setting, "engine_config") is None
        assert load_engine_config(session) == DEFAULTS
