"""Store <-> engagement engine: decide what to compute after loads, run it, record its state; read flags."""

from __future__ import annotations

import copy
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lib.compute.frames import computed_students, enrolled_frame, enrolments_key, read_frames
from lib.compute.results import (
    SNAPSHOT_WEEKS,
    next_flag_id,
    persist_measures,
    replace_measures_from,
    rewrite_flags_from,
    save_snapshots,
    snapshot_of,
    snapshot_open_ids,
    stored_dq,
    stored_snapshot,
    write_dq,
    write_flags,
)
from lib.engagement.calendar import monday, week_range
from lib.engagement.config import DEFAULTS, config_hash, merge_config, parse_assignments
from lib.engagement.engine import Results, earlier_flag_ends, run_keeping
from lib.engagement.explain import dq_frame
from lib.engagement.explain import flags_frame as engine_flags
from lib.engagement.measures import (
    Inputs,
    build_inputs,
    complete_through,
)
from lib.engagement.snapshot import Enrolled
from lib.engagement.weekly import RATE_SOURCES
from lib.store.models import DailyActivity, Exemption, Load, Setting, Student, Submission
from lib.store.writers import writing_in_series

CONFIG_KEY = "engine_config"
STATE_KEY = "engine_state"
# Loads of these sources change who is expected where and when: recompute everything. (A load
# of students rewrites the students whose records it added or changed, as for exemptions.)
STRUCTURAL_SOURCES = {"enrolments", "calendar", "timetable"}


@dataclass
class EngineState:
    """What the last compute recorded (stored as JSON under STATE_KEY): the newest load and
    exemption it saw, the configuration's hash, the results version, the first and last week
    computed, and each week's cohort prior per source."""

    load_id: int = 0
    exemption_id: int = 0
    config: str | None = None
    version: int = 0
    weeks: list[str] = field(default_factory=list)
    priors: dict | None = None

    @classmethod
    def from_json(cls, value: dict | None) -> EngineState:
        value = value or {}
        return cls(
            load_id=int(value.get("load_id", 0)),
            exemption_id=int(value.get("exemption_id", 0)),
            config=value.get("config"),
            version=int(value.get("version", 0)),
            weeks=list(value.get("weeks") or []),
            priors=value.get("priors"),
        )

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class ComputeSummary:
    """What one compute did: `as_dict()` is what `python -m lib compute` prints (fields that do
    not apply to the mode are None and left out)."""

    mode: str
    seconds: float
    reason: str | None = None
    students: int | None = None
    weeks: int | None = None
    weeks_rewritten_for_everyone: int | None = None
    teaching_weeks: int | None = None
    measures_written: int | None = None
    flags_raised: int | None = None
    flags_open: int | None = None
    flags_ended: int | None = None
    flags_new: int | None = None
    flags_removed: int | None = None
    flags_ended_earlier: int | None = None
    dq_events: int | None = None
    seconds_read: float | None = None
    seconds_engine: float | None = None
    seconds_measures: float | None = None

    def as_dict(self) -> dict:
        """The fields that apply, mode first and seconds (the total) last."""
        out = {k: v for k, v in asdict(self).items() if v is not None and k != "seconds"}
        return {**out, "seconds": self.seconds}


# --- configuration ---------------------------------------------------------------------------------


def _setting(session: Session, key: str):
    row = session.get(Setting, key)
    return row.value if row is not None else None


def _put_setting(session: Session, key: str, value, updated_by: str) -> None:
    row = session.get(Setting, key)
    now = datetime.now().replace(microsecond=0)
    if row is None:
        session.add(Setting(key=key, value=value, updated_at=now, updated_by=updated_by))
    else:
        row.value, row.updated_at, row.updated_by = value, now, updated_by
    session.flush()


def load_engine_config(session: Session) -> dict:
    """The engine configuration: documented defaults (lib.engagement.config) with stored overrides."""
    return merge_config(_setting(session, CONFIG_KEY))


def save_engine_config(session: Session, values: dict, updated_by: str) -> None:
    """Store the values that differ from the defaults (validated); the next compute is full."""
    merged = merge_config(values)
    overrides = {k: v for k, v in merged.items() if v != DEFAULTS[k]}
    _put_setting(session, CONFIG_KEY, overrides, updated_by)


def set_engine_config(session: Session, assignments: list[str], updated_by: str) -> dict:
    """Apply KEY=VALUE words over the stored overrides (validated, nothing stored when one is
    refused), save them and recompute everything; returns the changed settings and the summary."""
    before = load_engine_config(session)
    stored = copy.deepcopy(_setting(session, CONFIG_KEY) or {})
    for key, value in parse_assignments(assignments).items():
        if isinstance(value, dict):
            stored[key] = {**stored.get(key, {}), **value}
        else:
            stored[key] = value
    save_engine_config(session, stored, updated_by)
    after = load_engine_config(session)
    changed = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
    return {"changed": changed, "compute": compute(session, full=True).as_dict()}


def _touch(touched: dict, rows) -> None:
    """Merge (student, earliest day) rows into touched (None: every week of that student)."""
    for student, day in rows:
        day = _day(day)
        known = touched.get(student, date.max)
        if student not in touched or (known is not None and (day is None or day < known)):
            touched[student] = day


@dataclass
class Changes:
    """What loads changed since the last compute."""

    since: int  # the newest load id the last compute saw
    marks: tuple[int, int]  # the newest load id and exemption id now
    structural: bool  # enrolments, calendar or timetable loaded
    earliest: date | None  # the earliest activity day or submission due date loaded (None: none)
    exempted: list[str]  # students whose exemptions or student records changed


def _day(value) -> date | None:
    return value.date() if isinstance(value, datetime) else value


def _earliest(session: Session, model, day, loads: list[int]) -> date | None:
    """The earliest day (or due date) of these loads' rows: load by load, the first entry of the
    (load_id, day) index. Not min() over `load_id > since`, which both stores answer by reading
    every new row's entry; and ORDER BY ... LIMIT 1, not min(): PostgreSQL planned min() for a
    load id its statistics did not know yet as a scan of all its rows (528k: 0.2 s)."""
    first = select(day).where(day.is_not(None)).order_by(day).limit(1)
    days = [session.scalar(first.where(model.load_id == load)) for load in loads]
    known = [d for d in map(_day, days) if d is not None]
    return min(known) if known else None


def _changes(session: Session, state: EngineState) -> Changes:
    """What changed since the last compute: cheap queries (no grouping per student)."""
    marks = (
        session.scalar(select(func.max(Load.id))) or 0,
        session.scalar(select(func.max(Exemption.id))) or 0,
    )
    since = state.load_id
    sources = set(session.scalars(select(Load.source).where(Load.id > since)))
    if sources & STRUCTURAL_SOURCES:
        return Changes(since, marks, True, None, [])
    loads = list(session.scalars(select(Load.id).where(Load.id > since)))
    known = [
        d
        for model, day in ((DailyActivity, DailyActivity.day), (Submission, Submission.due_at))
        if (d := _earliest(session, model, day, loads)) is not None
    ]
    exempted = (Exemption.load_id > since) | (Exemption.id > state.exemption_id)
    students = list(session.scalars(select(Exemption.student_id).where(exempted)))
    students += session.scalars(select(Student.student_id).where(Student.load_id > since))
    if students:  # students the engine leaves out (nothing to measure) change no results
        students = sorted(set(students) & set(computed_students(session)))
    return Changes(since, marks, False, min(known) if known else None, students)


def _touched(session: Session, changes: Changes) -> dict:
    """{student touched: earliest day touched, None for every week} since the last compute."""
    touched: dict = {}
    for model, day in ((DailyActivity, DailyActivity.day), (Submission, Submission.due_at)):
        query = select(model.student_id, func.min(day)).where(model.load_id > changes.since)
        # grouped by load first: by student alone SQLite walked the primary key's index through
        # every daily row (15 s at 40,000 students) rather than the new loads' range of
        # (load_id, day); _touch keeps each student's earliest day
        grouped = query.group_by(model.load_id, model.student_id)
        _touch(touched, session.execute(grouped).all())
    _touch(touched, ((s, None) for s in changes.exempted))
    return touched


# --- the public contract ---------------------------------------------------------------------------


def _timetable_flips(inp: Inputs, old_weeks: int) -> bool:
    """Whether any student's attendance/online is measured differently over the old weeks alone
    (by rate with a timetable, by sessions attended without one) than over all weeks."""
    for k, source in enumerate(inp.sources):
        if source in RATE_SOURCES and len(inp.weeks):
            now = ~np.isnan(inp.expected[:, 0, k])
            before = (np.nan_to_num(inp.expected[:, :old_weeks, k]) > 0).any(1)
            if (now != before).any():
                return True
    return False


def _prior(res: Results) -> np.ndarray:
    """The engine's cohort prior per week and source (run() always computes it)."""
    assert res.prior is not None
    return res.prior


def _priors(inp: Inputs, res: Results, earlier: list | None = None) -> dict:
    """The cohort prior of every week per source, as stored with the engine state (after the
    stored rows of `earlier` weeks when given)."""
    return {
        "sources": list(inp.sources),
        "weeks": (earlier or []) + np.round(_prior(res), 12).tolist(),
    }


def _priors_moved(inp: Inputs, res: Results, stored: dict | None) -> bool:
    """Whether the cohort prior (the cold-start baseline of everyone) of a week computed before
    changed (a touched student's earlier weeks can move it); unknown counts as moved."""
    if not stored or not stored.get("weeks"):
        return True
    old = np.array(stored["weeks"], float)
    now = np.round(_prior(res)[: len(old)], 12)
    if len(old) > len(now):
        return True
    for k_old, source in enumerate(stored["sources"]):
        if source not in inp.sources:
            return True
        if not np.array_equal(now[:, inp.sources.index(source)], old[:, k_old], equal_nan=True):
            return True
    return False


def _full_reason(
    inp: Inputs, res: Results, state: EngineState, full: bool, dq_changed: bool
) -> str | None:
    """Why everything must be rewritten (None when a partial write is exact)."""
    span = [str(inp.weeks[0]), str(inp.weeks[-1])] if len(inp.weeks) else []
    old = state.weeks
    if full:
        return "requested, first compute, configuration or structural load"
    if not span or len(old) != 2 or span[0] != old[0] or span[1] < old[1]:
        return "the weeks computed changed other than by new weeks at the end"
    if dq_changed:
        return "a systemic (data-quality) event of a week computed before appeared or vanished"
    if _priors_moved(inp, res, state.priors):
        return "a week's cohort prior (cold-start baseline) moved"
    old_weeks = int(np.searchsorted(inp.weeks, np.datetime64(old[1]), side="right"))
    if _timetable_flips(inp, old_weeks):
        return "a student's timetable status changed with the new weeks"
    return None


def _plan(
    inp: Inputs, res: Results, state: EngineState, full: bool, touched: dict, dq_changed: bool
) -> tuple[str, str, list[str] | None, int]:
    """(mode, reason, students whose every week is rewritten (None: everyone), first week
    rewritten for everyone else (len(weeks): none)).

    full: everything. incremental: the touched students only. new_weeks: the data horizon moved
    forward: in full the students touched before the new weeks, everyone else only the new weeks;
    the engine is causal week by week (and a source's measure rows start the week it is first
    used), so earlier weeks are unchanged unless a systemic event of those weeks, a week's cohort
    prior or a student's timetable status changed (then everything is rewritten)."""
    W = len(inp.weeks)
    reason = _full_reason(inp, res, state, full, dq_changed)
    if reason is not None:
        return "full", reason, None, W
    known = set(inp.student_ids)
    if str(inp.weeks[-1]) == state.weeks[1]:
        return "incremental", "loads touched these students", sorted(set(touched) & known), W
    old_weeks = int(np.searchsorted(inp.weeks, np.datetime64(state.weeks[1]), side="right"))
    new_from = inp.weeks[old_weeks].item()
    earlier = {s for s, day in touched.items() if day is None or day < new_from} & known
    return "new_weeks", "the data horizon moved forward", sorted(earlier), old_weeks


def _dq_keys(keys, through: str | None) -> set:
    """(week, source, module) data-quality keys up to a week (all when None); module '' -> None."""
    last = date.fromisoformat(through) if through else date.max
    return {(w, s, m if isinstance(m, str) and m else None) for w, s, m in keys if w <= last}


def _save_state(
    session: Session,
    state: EngineState,
    inp: Inputs,
    res: Results,
    config: dict,
    marks: tuple[int, int],
    span: list[str] | None = None,
    priors: dict | None = None,
) -> int:
    """Store what the next compute compares with (loads seen, weeks, priors); returns the new
    version."""
    version = state.version + 1
    saved = EngineState(
        load_id=marks[0],
        exemption_id=marks[1],
        config=config_hash(config),
        version=version,
        weeks=span or [str(inp.weeks[0]), str(inp.weeks[-1])],
        priors=priors or _priors(inp, res),
    )
    _put_setting(session, STATE_KEY, saved.to_json(), "engine")
    return version


def _timings(t0: float, t_read: float, t_engine: float, t_measures: float) -> dict:
    """Seconds spent reading, in the engine, writing measures, and in all (so far)."""
    return {
        "seconds_read": round(t_read - t0, 2),
        "seconds_engine": round(t_engine - t_read, 2),
        "seconds_measures": round(t_measures - t_engine, 2),
        "seconds": round(time.perf_counter() - t0, 2),
    }


def _keep_snapshots(
    session: Session,
    inp: Inputs,
    flags,
    first_id: int,
    states,
    version: int,
    every: bool,
    enrolled: Enrolled | None,
) -> None:
    """Store the kept weekly states, their open flags named by stored ids (none when a flag
    could not be named: later loads then pass over every week), with the enrolments read."""
    if not snapshot_open_ids(session, flags, first_id, states):
        states = []
    save_snapshots(session, inp, states, version, every=every or not states, enrolled=enrolled)


def _compute_all(
    session: Session,
    config: dict,
    state: EngineState,
    full: bool,
    touched: dict,
    marks: tuple[int, int],
    t0: float,
) -> ComputeSummary:
    """compute() by a pass over every week (writing only what changed, see `_plan`)."""
    key, enrolled = enrolments_key(session), enrolled_frame(session)
    inp = build_inputs(**read_frames(session, enrolled=enrolled), config=config)
    t_read = time.perf_counter()
    res, states = run_keeping(inp, config, keep=SNAPSHOT_WEEKS)
    flags = engine_flags(inp, res, config)
    dq = dq_frame(inp, res)
    t_engine = time.perf_counter()
    through = state.weeks[1] if state.weeks else None
    now = dq[["week_start", "source", "module_code"]].itertuples(index=False)
    dq_changed = not full and _dq_keys(now, through) != _dq_keys(stored_dq(session), through)
    mode, reason, students, first_week = _plan(inp, res, state, full, touched, dq_changed)
    rows = persist_measures(session, inp, res, students, first_week)
    t_measures = time.perf_counter()
    flag_scope = students if mode == "incremental" else None  # new weeks can end anyone's flag
    flag_rows = flags if flag_scope is None else flags[flags["student_id"].isin(flag_scope)]
    counts = write_flags(session, flag_rows, flag_scope)
    write_dq(session, dq)
    version = _save_state(session, state, inp, res, config, marks)
    kept = Enrolled.of(enrolled, inp.student_ids, key)
    _keep_snapshots(session, inp, flags, 0, states, version, every=True, enrolled=kept)
    rewritten = len(inp.weeks) - first_week if students is not None else len(inp.weeks)
    return ComputeSummary(
        mode=mode,
        reason=reason,
        students=int(len(inp.student_ids)) if students is None else len(students),
        weeks=int(len(inp.weeks)),
        weeks_rewritten_for_everyone=int(rewritten),
        teaching_weeks=int(inp.teaching.sum()),
        measures_written=rows,
        flags_raised=int(len(flags)),
        flags_open=int(flags["ended_week"].isna().sum()),
        flags_ended=int(flags["ended_week"].notna().sum()),
        **counts,
        dq_events=int(len(dq)),
        **_timings(t0, t_read, t_engine, t_measures),
    )


def _resume_week(state: EngineState, changes: Changes) -> date | None:
    """The first week to recompute: the Monday after the last week computed, or the week of the
    earliest day changed since when earlier (None: exemptions changed, or nothing computed)."""
    span = state.weeks
    if len(span) != 2 or changes.earliest is None or changes.exempted:
        return None
    after = date.fromisoformat(span[1]) + timedelta(days=7)
    start = min(monday(changes.earliest), after)
    return start if start > date.fromisoformat(span[0]) else None


def _compute_resumed(
    session: Session, config: dict, state: EngineState, changes: Changes, t0: float
) -> ComputeSummary | None:
    """compute() from the first week changed on: the engine resumes from the state kept after
    the week before (the last SNAPSHOT_WEEKS weeks' are kept) over those weeks alone, read from
    the store by date (None when that is not exact: then every week is passed over)."""
    start = _resume_week(state, changes)
    if start is None:
        return None
    blob = stored_snapshot(session, start - timedelta(days=7))
    if blob is None:
        return None
    # the 38 MB state (at 40,000 students) decompressed in a thread while the store is asked who
    # is computed and what the enrolments are: both wait outside the GIL most of the time
    with ThreadPoolExecutor(max_workers=1) as pool:
        decoding = pool.submit(snapshot_of, blob)
        students = computed_students(session)
        key = enrolments_key(session)
        snap = decoding.result()
    if snap is None or not students.astype(str).equals(snap.student_ids.astype(str)):
        return None
    last = complete_through(session.scalar(select(func.max(DailyActivity.day)))).date()
    if last < start:  # only days of a week not complete yet: they are read when it is
        seen = replace(state, load_id=changes.marks[0])
        _put_setting(session, STATE_KEY, seen.to_json(), "engine")
        return ComputeSummary(
            "up_to_date",
            round(time.perf_counter() - t0, 2),
            reason="the new days are in a week not complete yet",
        )
    # module groups are inferred from the attendance of the weeks before too: the snapshot
    # carries it (Carry.module_weeks), so only the new weeks' days are read
    # the enrolments as the snapshot kept them, while the store's are the same
    kept = snap.enrolled
    if kept is None or kept.key != key:
        enrolled = enrolled_frame(session)
        kept = Enrolled.of(enrolled, students, key)
    else:
        enrolled = kept.frame(students)
    frames = read_frames(session, (start, last), students, enrolled=enrolled)
    weeks = week_range(start, last)
    inp = build_inputs(**frames, config=config, weeks=weeks, sources=snap.sources, carry=snap.carry)
    if inp.sources != snap.sources or (inp.timetabled & ~snap.carry.timetabled).any():
        return None  # a source used for the first time, or a student's first timetable
    t_read = time.perf_counter()
    first_id = next_flag_id(session)
    res, states = run_keeping(inp, config, snap.state.resumed(first_id), keep=SNAPSHOT_WEEKS)
    flags = engine_flags(inp, res, config)
    assert res.state is not None  # run() always leaves the engine state in its results
    ends = earlier_flag_ends(res.state)
    dq = dq_frame(inp, res)
    t_engine = time.perf_counter()
    rows = replace_measures_from(session, inp, res)
    t_measures = time.perf_counter()
    counts = rewrite_flags_from(session, inp, res, flags, ends, snap.state, since=start)
    write_dq(session, dq, since=start)
    before = (start - date.fromisoformat(state.weeks[0])).days // 7
    priors = _priors(inp, res, ((state.priors or {}).get("weeks") or [])[:before])
    span = [state.weeks[0], str(inp.weeks[-1])]
    version = _save_state(session, state, inp, res, config, changes.marks, span=span, priors=priors)
    _keep_snapshots(session, inp, flags, first_id, states, version, every=False, enrolled=kept)
    appended = str(start) > state.weeks[1]
    return ComputeSummary(
        mode="new_weeks_resumed" if appended else "resumed_from_week",
        reason="only days after the last week computed were loaded"
        if appended
        else f"days from the week of {start} on changed",
        students=int(len(inp.student_ids)),
        weeks=before + len(inp.weeks),
        weeks_rewritten_for_everyone=int(len(inp.weeks)),
        teaching_weeks=int(inp.teaching.sum()),
        measures_written=rows,
        flags_raised=int(len(flags)),
        **counts,
        dq_events=int(len(dq)),
        **_timings(t0, t_read, t_engine, t_measures),
    )


def compute(session: Session, full: bool = False) -> ComputeSummary:
    """Bring weekly measures, baselines, flags and data-quality events up to date with the store
    (`_compute`); its writes are a series that pauses for app writes (lib.store.writers)."""
    with writing_in_series():
        return _compute(session, full)


def _compute(session: Session, full: bool = False) -> ComputeSummary:
    """Bring weekly measures, baselines, flags and data-quality events up to date with the store.

    A load changing only the last SNAPSHOT_WEEKS weeks computed or later days (the weekly load,
    late submissions) resumes the engine from the state kept after the week before the first
    changed one, over those weeks alone. Otherwise the engine passes over every week in memory
    (so results equal a full recompute) and what is written depends on what changed since the
    last compute (see `_plan`): a change of calendar, timetable, enrolments, students,
    configuration or of an earlier week's systemic (data-quality) events rewrites everything;
    loads of activity, submissions or exemptions rewrite the students they touched, plus the new
    weeks of everyone when the data horizon moved forward."""
    t0 = time.perf_counter()
    config = load_engine_config(session)
    state = EngineState.from_json(_setting(session, STATE_KEY))
    changes = _changes(session, state)
    full = full or changes.structural or state.config != config_hash(config)
    if not full and changes.earliest is None and not changes.exempted:
        return ComputeSummary("up_to_date", round(time.perf_counter() - t0, 2))
    if not full:
        resumed = _compute_resumed(session, config, state, changes, t0)
        if resumed is not None:
            return resumed
    touched = {} if full else _touched(session, changes)
    return _compute_all(session, config, state, full, touched, changes.marks, t0)


def data_version(session: Session) -> int:
    """A number that changes whenever engine results are rewritten (for caches)."""
    return EngineState.from_json(_setting(session, STATE_KEY)).version
