"""Load test: concurrent staff sessions against the app, printed as JSON.

Builds a store of N students (default 40,000 x 20 weeks of engine output, in bulk), starts app
replicas (default 2) behind nginx on loopback (or one replica alone with --direct), then runs S
concurrent sessions (default 30), each opening Home, Cohort and Student pages in turn.

Clients (--clients): `ws` (default) speaks Streamlit's own websocket protocol (bench/st_client.py):
each session is signed in the way the login form leaves it (a server-side session and its cookie),
gets nginx's route cookie, opens `/_stcore/stream` and asks for each page with a `rerun_script`
message; a view is timed from that request to the run's `script_finished`, and its heading is
checked. `browser` drives Playwright contexts in Debian's chromium (logging in through the form), a
view timed until the heading shows and no run is in progress; 30 browsers on a 2-core machine
measure mostly themselves.

Prints p50/p95 over every view and per page, the same for one session alone measured first (the
reference), for a second wave of the same sessions on warm caches (ws) and for a floor wave (the
same sessions and number of views, each the cheapest signed-in page run), each replica's resident
memory at start (after a first login-page run on each, which imports the app), after the
reference session and with every session still connected at the end of
each wave (server_memory_mb sums them; the second wave's growth per session is what a session holds
beyond the shared caches), the CPU seconds the replicas, their PostgreSQL backends (on this machine)
and the clients used during the sessions,
and the machine's load average.

    python bench/load.py [--students 40000] [--sessions 30] [--rounds 3] [--store URL] [--reuse]
                         [--replicas 2] [--direct] [--clients ws|browser] [--ramp S] [--think S]
                         [--no-second-wave]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COOKIE_KEY = secrets.token_urlsafe(48)  # a fixed text fails the app's key-strength check
PASSWORD = "bench-password-123"
FIRST_WEEK = date(2025, 9, 22)
SOURCES = ("index", "attendance", "vle", "submission", "lecture_capture")
SCHOOLS = ("Science", "Engineering", "Business", "Arts", "Law", "Medicine", "Education", "Music")
DEFAULT_STORE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA = "bench_load"
CHROMIUM = "/usr/bin/chromium"
COOKIE_NAME = "engagement_dashboard_auth"  # lib.auth.COOKIE_NAME
ROUTE_COOKIE = "dashboard_route"  # lib.ops.replicas.ROUTE_COOKIE
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


def store_url(base: str) -> str:
    """The bench's own schema on PostgreSQL (search_path), or the SQLite file as given."""
    if base.startswith("sqlite"):
        return base
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{SCHEMA}&application_name={SCHEMA}"


def db_backends(url: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving the bench's store (named by its
    application_name; the database runs on this machine), by pid; none for SQLite."""
    if url.startswith("sqlite"):
        return {}
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        pids = conn.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
            {"name": SCHEMA},
        ).all()
    engine.dispose()
    return {pid: cpu_seconds([pid]) for pid in pids if Path(f"/proc/{pid}").exists()}


def db_cpu_since(url: str, before: dict[int, float]) -> float:
    """CPU seconds the store's backends used since `before` (backends started since count whole)."""
    return round(sum(cpu - before.get(pid, 0.0) for pid, cpu in db_backends(url).items()), 1)


def reset_store(base: str) -> None:
    from sqlalchemy import create_engine, text

    if base.startswith("sqlite"):
        path = Path(base.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{SCHEMA}"'))
    admin.dispose()


def frames(students: int, weeks: int, seed: int = 1) -> dict[str, pd.DataFrame]:
    """Students, enrolments, weekly measures, flags and the calendar as the engine would leave them."""
    from lib.store.measures import WIDE_SOURCES

    rng = np.random.default_rng(seed)
    ids = np.array([f"B{i:06d}" for i in range(students)], dtype=object)
    school = rng.integers(0, len(SCHOOLS), students)
    course = school * 10 + rng.integers(0, 10, students)
    year = rng.integers(1, 5, students)
    tutor = rng.integers(0, students // 30 + 1, students)
    student = pd.DataFrame(
        {
            "student_id": ids,
            "given_name": [f"Given{i}" for i in range(students)],
            "family_name": [f"Family{i}" for i in range(students)],
            "email": [f"b{i:06d}@uni.example" for i in range(students)],
            "course_code": [f"C{c:03d}" for c in course],
            "course_name": [f"Course {c}" for c in course],
            "school": [SCHOOLS[s] for s in school],
            "level": np.where(year < 4, "UG", "PGT"),
            "year_of_study": year,
            "mode": "FT",
            "tutor_username": [f"tutor{t:04d}" for t in tutor],
            "visa_sponsored": rng.random(students) < 0.15,
            "residence": np.where(np.arange(students) % 3 == 0, "on_campus", "off_campus"),
            "status": "enrolled",
            "start_date": FIRST_WEEK,
        }
    )
    enrolment = pd.DataFrame(
        {
            "student_id": np.repeat(ids, 4),
            "module_code": [f"M{c:03d}{k}" for c in course for k in range(4)],
            "academic_year": 2025,
        }
    )
    teaching = np.array([w not in (6, 12, 13) for w in range(weeks)])
    drop_from = np.where(rng.random(students) < 0.08, rng.integers(8, weeks, students), weeks)
    base = {s: rng.lognormal(1.0, 0.5, students) for s in SOURCES}
    parts = []
    measured = sum(1 << WIDE_SOURCES.index(s) for s in SOURCES)  # one wide row a student-week
    for w in range(weeks):
        factor = np.where(w >= drop_from, 0.15, 1.0) * rng.normal(1.0, 0.15, students).clip(0.2)
        week = {
            "student_id": ids,
            "week_start": FIRST_WEEK + timedelta(weeks=w),
            "teaching": bool(teaching[w]),
            "measured": measured,
            "cold": measured if w < 3 else 0,
        }
        for source, baseline in base.items():
            week[f"{source}_value"] = baseline * factor if teaching[w] else np.nan
            week[f"{source}_baseline"] = baseline
            week[f"{source}_spread"] = baseline * 0.15  # a usual range of 70% to 130%
        parts.append(pd.DataFrame(week))
    flagged = np.nonzero(drop_from < weeks)[0]
    flag = pd.DataFrame(
        {
            "student_id": ids[flagged],
            "kind": np.where(flagged % 2 == 1, "index_drop", "no_engagement"),
            "severity": np.array(["high", "medium", "low"])[flagged % 3],
            "week_start": [FIRST_WEEK + timedelta(weeks=int(drop_from[i])) for i in flagged],
            "explanation": [
                f"Combined engagement fell from 100% to 15% of the usual level in week {drop_from[i]}"
                for i in flagged
            ],
            "computed_at": datetime.now().replace(microsecond=0),
        }
    )
    week = [FIRST_WEEK + timedelta(weeks=w) for w in range(max(weeks, 14))]
    calendar = pd.DataFrame(
        [
            ("term", week[0], week[11] + timedelta(days=4), "Autumn"),
            ("reading_week", week[6], week[6] + timedelta(days=4), "Reading week"),
            ("vacation", week[12], week[13] + timedelta(days=6), "Winter"),
        ],
        columns=["kind", "start", "end", "label"],
    )
    return {
        "students": student,
        "enrolments": enrolment,
        "weekly_measures": pd.concat(parts, ignore_index=True),
        "flags": flag,
        "calendar_periods": calendar,
    }


def build_store(url: str, students: int, weeks: int, sessions: int) -> dict:
    """Fill an empty migrated store in bulk (COPY on PostgreSQL); returns counts and seconds."""
    from sqlalchemy import text

    from lib.auth import add_user
    from lib.store.bulk import bulk_insert
    from lib.store.db import init_db, session_scope
    from lib.store.models import Base

    started = time.perf_counter()
    init_db(url)
    counts = {}
    with session_scope(url) as session:
        for name, frame in frames(students, weeks).items():
            counts[name] = bulk_insert(session, Base.metadata.tables[name], frame)
        for username, role, extra in staff(sessions):
            add_user(session, username, role=role, password=PASSWORD, **extra)
    with session_scope(url) as session:  # planner statistics, as autovacuum leaves a live store
        for table in Base.metadata.sorted_tables:
            session.execute(text(f'ANALYZE "{table.name}"'))
    return {**counts, "build_seconds": round(time.perf_counter() - started, 1)}


def staff(sessions: int) -> list[tuple[str, str, dict]]:
    """One user per session: wellbeing (every student), senior tutors (a school), tutors."""
    users = []
    for n in range(sessions):
        if n % 3 == 0:
            users.append((f"load_wb{n:02d}", "wellbeing", {}))
        elif n % 3 == 1:
            users.append((f"load_st{n:02d}", "senior_tutor", {"school": SCHOOLS[n % 8]}))
        else:
            users.append((f"tutor{n:04d}", "tutor", {}))
    return users


def students_in_scope(url: str, users: list, per_user: int = 3) -> dict[str, list[str]]:
    """A few student ids each user may open (their tutees, their school, anyone)."""
    from sqlalchemy import select

    from lib.store.db import session_scope
    from lib.store.models import Student

    out = {}
    with session_scope(url) as session:
        for username, role, extra in users:
            query = select(Student.student_id).order_by(Student.student_id)
            if role == "tutor":
                query = query.where(Student.tutor_username == username)
            elif role == "senior_tutor":
                query = query.where(Student.school == extra["school"])
            in_scope = list(session.scalars(query.limit(50 + per_user)))
            offset = sum(map(ord, username)) % max(len(in_scope) - per_user, 1)
            out[username] = in_scope[offset : offset + per_user]  # a tutor has ~30 tutees
    return out


def rss(pids: list[int]) -> list[float]:
    from lib.ops.replicas import rss_mb

    return [rss_mb(pid) for pid in pids]


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) the processes used so far, from /proc."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


IDLE_JS = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"


async def _view(page, url: str, heading: str) -> float:
    """Seconds from the request until the heading shows and the script run has finished."""
    started = time.perf_counter()
    await page.goto(url)
    await page.locator("h1, h2").filter(has_text=heading).first.wait_for(timeout=600_000)
    quiet = 0
    while quiet < 3:  # idle on three polls in a row: the run has really finished
        quiet = quiet + 1 if await page.evaluate(IDLE_JS) else 0
        await asyncio.sleep(0.1)
    return time.perf_counter() - started - 0.3


async def _session(
    browser, base: str, user: tuple, ids: list[str], rounds: int, out: list, delay: float
):
    await asyncio.sleep(delay)  # staff arrive over a few seconds, not in the same millisecond
    username, role, _ = user
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(600_000)
    try:
        started = time.perf_counter()
        await page.goto(f"{base}/")
        await page.get_by_role("textbox", name="Username").fill(username)
        await page.get_by_role("textbox", name="Password").fill(PASSWORD)
        await page.get_by_role("button", name="Login").click()
        home = "My students" if role == "tutor" else "Home"
        await page.locator("h1").filter(has_text=home).first.wait_for(timeout=600_000)
        out.append(("login", time.perf_counter() - started))
        for _ in range(600):  # the re-login cookie: later page loads sign in through it
            if any(c["name"] == COOKIE_NAME for c in await context.cookies()):
                break
            await asyncio.sleep(0.2)
        for k in range(rounds):
            student = ids[k % len(ids)]
            for name, path, heading in (
                ("home", "/", home),
                ("cohort", "/cohort", "Cohort"),
                ("student", f"/student?id={student}", student),
            ):
                out.append((name, await _view(page, f"{base}{path}", heading)))
    except Exception:
        await page.screenshot(path=str(Path(tempfile.gettempdir()) / f"bench_load_{username}.png"))
        raise
    finally:
        await context.close()


async def run_browser_sessions(
    base: str, users: list, ids: dict, rounds: int, ramp: float
) -> list[tuple[str, float]]:
    from playwright.async_api import async_playwright

    timings: list[tuple[str, float]] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            outcomes = await asyncio.gather(
                *(
                    _session(browser, base, u, ids[u[0]], rounds, timings, ramp * n)
                    for n, u in enumerate(users)
                ),
                return_exceptions=True,
            )
        finally:
            await browser.close()
    failed = [repr(o)[:300] for o in outcomes if isinstance(o, BaseException)]
    timings.extend(("failed", float("nan")) for _ in failed)
    if failed:
        print(f"{len(failed)} session(s) failed; first: {failed[0]}", file=sys.stderr)
    return timings


# --- websocket clients speaking Streamlit's protocol (bench/st_client.py) --------------------------


def sign_in(url: str, users: list) -> dict[str, str]:
    """A live login session per user, as the login form leaves it: username -> login cookie."""
    from lib import auth, sessions
    from lib.store.db import session_scope

    with session_scope(url) as session:
        return {
            username: sessions.start(session, username, COOKIE_KEY, auth.session_lifetime()).token
            for username, _, _ in users
        }


def route(base: str) -> tuple[dict[str, str], str]:
    """The route cookie nginx hands a new browser (none without nginx) and the replica it names."""
    import urllib.request

    with urllib.request.urlopen(f"{base}/_stcore/health", timeout=600) as resp:
        cookies = dict(
            c.split(";")[0].split("=", 1) for c in resp.headers.get_all("Set-Cookie") or []
        )
        upstream = resp.headers.get("X-Upstream") or base.removeprefix("http://")
    return {k: v for k, v in cookies.items() if k == ROUTE_COOKIE}, upstream


def views(role: str, student: str, floor: bool = False) -> list[tuple[str, str, str, str]]:
    """(name, url path, query, heading to find) of one round: Home, Cohort, a student; for the
    floor, three runs of the cheapest signed-in page (Student without a student: the app shell's
    checks, the data version, navigation, sidebar and a search box)."""
    if floor:
        return [("floor", "student", "", "Student")] * 3
    return [
        ("home", "", "", "My students" if role == "tutor" else "Home"),
        ("cohort", "cohort", "", "Cohort"),
        ("student", "student", f"id={student}", f"· {student}"),
    ]


async def _ws_session(
    base: str,
    user: tuple,
    token: str,
    ids: list[str],
    rounds: int,
    think: float,
    out: list,
    opened: list,
    floor: bool = False,
) -> None:
    from bench.st_client import StreamlitSession

    username, role, _ = user
    cookies, upstream = await asyncio.to_thread(route, base)
    started = time.perf_counter()
    client = await StreamlitSession.open(base, {COOKIE_NAME: token, **cookies})
    opened.append((client, upstream))
    out.append(("connect", time.perf_counter() - started))
    for k in range(rounds):
        for name, path, query, heading in views(role, ids[k % len(ids)], floor):
            view = await client.view(path, query)
            if view.errors or not any(heading in h for h in view.headings):
                raise RuntimeError(
                    f"{username} {name}: no heading {heading!r} in {view.headings[:5]}; "
                    f"errors {view.errors[:2]}"
                )
            out.append((name, view.seconds))
            await asyncio.sleep(think)


async def warm_up(base: str) -> float:
    """Seconds of the first script run of a freshly started replica (the login page, no cookie):
    it imports the app (the engine, scipy, scikit-learn), a cost paid once per process start."""
    from bench.st_client import StreamlitSession

    client = await StreamlitSession.open(base, {})
    try:
        return (await client.view("")).seconds
    finally:
        await client.close()


async def run_ws_sessions(
    base: str,
    users: list,
    tokens: dict[str, str],
    ids: dict,
    rounds: int,
    ramp: float,
    think: float,
    at_end=None,
    floor: bool = False,
) -> tuple[list[tuple[str, float]], dict[str, int]]:
    """Timings of every view; `at_end()` runs while every session is still connected."""
    timings: list[tuple[str, float]] = []
    opened: list = []

    async def one(n: int, user: tuple) -> None:
        await asyncio.sleep(ramp * n)  # staff arrive over a few seconds
        await _ws_session(
            base, user, tokens[user[0]], ids[user[0]], rounds, think, timings, opened, floor
        )

    outcomes = await asyncio.gather(
        *(one(n, u) for n, u in enumerate(users)), return_exceptions=True
    )
    if at_end is not None:
        at_end()
    for client, _ in opened:
        await client.close()
    failed = [repr(o)[:400] for o in outcomes if isinstance(o, BaseException)]
    timings.extend(("failed", float("nan")) for _ in failed)
    if failed:
        print(f"{len(failed)} session(s) failed; first: {failed[0]}", file=sys.stderr)
    per_replica: dict[str, int] = {}
    for _, upstream in opened:
        per_replica[upstream] = per_replica.get(upstream, 0) + 1
    return timings, per_replica


def summary(timings: list[tuple[str, float]]) -> dict:
    views = [t for name, t in timings if name not in ("login", "connect", "failed")]

    def pct(values: list[float], q: float) -> float:
        return round(float(np.percentile(values, q)), 3) if values else float("nan")

    per_page = {
        name: {"p50_seconds": pct(v, 50), "p95_seconds": pct(v, 95), "views": len(v)}
        for name in ("login", "connect", "home", "cohort", "student", "floor")
        if (v := [t for n, t in timings if n == name])
    }
    return {
        "views": len(views),
        "p50_seconds": pct(views, 50),
        "p95_seconds": pct(views, 95),
        "max_seconds": round(max(views), 3) if views else None,
        "sessions_failed": sum(1 for name, _ in timings if name == "failed"),
        "per_page": per_page,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40_000)
    parser.add_argument("--weeks", type=int, default=20)
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument(
        "--rounds", type=int, default=3, help="Home/Cohort/Student cycles per session"
    )
    parser.add_argument("--store", default=os.environ.get("TEST_DATABASE_URL") or DEFAULT_STORE)
    parser.add_argument("--reuse", action="store_true", help="reuse the store built last time")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--direct", action="store_true", help="one replica, no nginx in front")
    parser.add_argument("--clients", choices=("ws", "browser"), default="ws")
    parser.add_argument(
        "--ramp", type=float, help="seconds between session starts (ws 0.1, browser 1.0)"
    )
    parser.add_argument(
        "--think", type=float, default=0.0, help="seconds a ws session waits between views"
    )
    parser.add_argument(
        "--no-second-wave",
        action="store_true",
        help="ws: skip the second (warm caches, memory per session) and floor waves",
    )
    args = parser.parse_args(argv)
    from lib.ops.replicas import serve

    ramp = args.ramp if args.ramp is not None else (0.1 if args.clients == "ws" else 1.0)
    url = store_url(args.store)
    result: dict = {
        "benchmark": "load",
        "clients": args.clients,
        "store": "sqlite" if url.startswith("sqlite") else "postgresql",
        "students": args.students,
        "sessions": args.sessions,
        "rounds": args.rounds,
        "ramp_seconds": ramp,
        "think_seconds": args.think,
        "replicas": 1 if args.direct else args.replicas,
        "via": "direct" if args.direct else "nginx",
    }
    if not args.reuse:
        reset_store(args.store)
        result["data"] = build_store(url, args.students, args.weeks, args.sessions)
    env = {"DATABASE_URL": url, "DASHBOARD_COOKIE_KEY": COOKIE_KEY}
    users = staff(args.sessions)
    ids = students_in_scope(url, users)
    tokens = sign_in(url, users) if args.clients == "ws" else {}
    folder = Path(tempfile.mkdtemp(prefix="bench_load_"))

    def run(group: list, at_end=None, floor: bool = False) -> list[tuple[str, float]]:
        if args.clients == "browser":
            out = asyncio.run(run_browser_sessions(cluster.url, group, ids, args.rounds, ramp))
            if at_end is not None:
                at_end()
            return out
        out, per_replica = asyncio.run(
            run_ws_sessions(
                cluster.url, group, tokens, ids, args.rounds, ramp, args.think, at_end, floor
            )
        )
        result["sessions_per_replica"] = per_replica
        return out

    with serve(env, folder, 1 if args.direct else args.replicas, nginx=not args.direct) as cluster:
        pids = [pid for pid, _ in cluster.replicas]
        if args.clients == "ws":  # each replica directly, as its first visitor after a restart
            result["warm_up_seconds"] = [
                round(asyncio.run(warm_up(base)), 2) for _, base in cluster.replicas
            ]
        result["rss_mb_started"] = rss(pids)
        cpu = cpu_seconds(pids)
        single = summary(run(users[:1]))
        single["server_cpu_seconds"] = round(cpu_seconds(pids) - cpu, 1)
        result["rss_mb_before"] = rss(pids)  # after one session warmed the shared caches
        result["load_average_1m_before"] = round(os.getloadavg()[0], 1)

        def at_end() -> None:  # every session still connected (ws): what they hold is counted
            result["rss_mb_after"] = rss(pids)

        started, cpu, own = time.perf_counter(), cpu_seconds(pids), time.process_time()
        db = db_backends(url)
        timings = run(users, at_end)
        result["db_cpu_seconds"] = db_cpu_since(url, db)
        result["wall_seconds"] = round(time.perf_counter() - started, 1)
        # the replicas' share of the machine's 2 cores while the sessions ran (the clients, nginx
        # and other users of the machine take the rest)
        result["server_cpu_seconds"] = round(cpu_seconds(pids) - cpu, 1)
        result["client_cpu_seconds"] = round(time.process_time() - own, 1)
        second = floor = None
        if args.clients == "ws" and not args.no_second_wave:
            # the same staff open a new tab each: every cache is warm now, and the first wave's
            # sessions are still held (server.disconnectedSessionTTL, 120 s), so what memory grows
            # by is what the new sessions hold
            def at_end_second() -> None:
                result["rss_mb_after_second_wave"] = rss(pids)

            load, cpu, db = round(os.getloadavg()[0], 1), cpu_seconds(pids), db_backends(url)
            started = time.perf_counter()
            second = summary(run(users, at_end_second))
            second["db_cpu_seconds"] = db_cpu_since(url, db)
            second["wall_seconds"] = round(time.perf_counter() - started, 1)
            second["server_cpu_seconds"] = round(cpu_seconds(pids) - cpu, 1)
            second["load_average_1m_before"] = load
            # the floor in the same run: as many views by the same sessions, each the cheapest
            # signed-in page run, so that the waves' figures can be read against what the
            # machine (its load included) gives any page run at this concurrency
            load, cpu, db = round(os.getloadavg()[0], 1), cpu_seconds(pids), db_backends(url)
            started = time.perf_counter()
            floor = summary(run(users, floor=True))
            floor["db_cpu_seconds"] = db_cpu_since(url, db)
            floor["wall_seconds"] = round(time.perf_counter() - started, 1)
            floor["server_cpu_seconds"] = round(cpu_seconds(pids) - cpu, 1)
            floor["load_average_1m_before"] = load
    result.update(summary(timings))
    result["single_session"] = single
    result["p95_ratio_to_single"] = round(result["p95_seconds"] / single["p95_seconds"], 2)
    if second is not None and floor is not None:
        result["second_wave"] = second
        result["floor_wave"] = floor
        result["p95_ratio_to_floor"] = round(result["p95_seconds"] / floor["p95_seconds"], 2)
        second["p95_ratio_to_floor"] = round(second["p95_seconds"] / floor["p95_seconds"], 2)
    before, after = sum(result["rss_mb_before"]), sum(result["rss_mb_after"])
    memory = {  # every replica together
        "start": round(sum(result["rss_mb_started"]), 1),
        "after_reference": round(before, 1),
        "end": round(after, 1),
        # the first wave fills the shared caches of every scope it opens (and of each replica)
        "growth_per_session_first_wave": round((after - before) / args.sessions, 1),
    }
    if "rss_mb_after_second_wave" in result:
        end = sum(result["rss_mb_after_second_wave"])
        memory["end_second_wave"] = round(end, 1)
        memory["growth_per_session_beyond_shared_caches"] = round((end - after) / args.sessions, 1)
    result["server_memory_mb"] = memory
    result["target_p95_met"] = bool(result["p95_seconds"] <= 3.0)  # the first wave: cold caches
    if second is not None:
        second["target_p95_met"] = bool(second["p95_seconds"] <= 3.0)
    result["load_average_1m_after"] = round(os.getloadavg()[0], 1)  # a shared machine shows here
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
