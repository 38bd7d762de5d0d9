"""Weekly measures per student, week and source as (students, weeks, sources) arrays, from long frames.

Measures (value; `count`/`expected` keep the raw numbers the explanations quote):
- attendance / online: sessions attended / expected sessions that week (rate 0..1); a student with no
  expected sessions at all is measured by sessions attended.
- vle: active days in the week (events kept as `vle_events`, last active day as `vle_last_day`).
- submission: submissions on time / submissions due that week (NaN when nothing is due).
- lecture_capture: minutes viewed; any other (generic `events`) source: quantity.
Weeks end at the data horizon (the last complete week with activity).
Module-level systemic drops (a module's sessions unattended by most of its students in one week, against
the module's usual rate so far) are found here, recorded as data-quality events and removed from those
students' attendance that week.

Everything a week's inputs need from earlier weeks is in a `Carry`, so the weeks after a computed span
can be built alone (`build_inputs(..., weeks=..., carry=...)`) and give what a build of every week gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lib.engagement.calendar import exempt_matrix, teaching_weeks, week_range
from lib.engagement.codes import Rows, distinct_keys, factor, positions, recode, subset
from lib.engagement.weekly import (
    EPOCH,
    RATE_SOURCES,
    epoch_days,
    week_monday,
    week_number,
    weekly_activity,
    weekly_expected,
    weekly_submissions,
)
from lib.sources import (
    ATTENDANCE,
    CORE_ACTIVITY_SOURCES,
    LECTURE_CAPTURE,
    ONLINE,
    SUBMISSION,
    VLE,
)


@dataclass
class Carry:
    """What later weeks' inputs need from earlier weeks (None fields: nothing earlier)."""

    timetabled: np.ndarray  # (S, len(RATE_SOURCES)) expected sessions seen for attendance/online
    vle_last_day: np.ndarray  # (S,) epoch day of the last Moodle activity (-1 never)
    used: np.ndarray  # (S, K) sources each student has had activity or expected counts in
    module_rates: pd.DataFrame  # source, module_code, week (number), rate: teaching weeks so far
    # s, module_code, weeks: each student's attendance/online module codes of the last
    # GROUP_LOOKBACK_WEEKS weeks (bit j of `weeks`: active j + 1 weeks before the next week),
    # the module groups of the next weeks (None: take them from the activity rows given)
    module_weeks: pd.DataFrame | None = None


MODULE_WEEK_COLUMNS = ["s", "module_code", "weeks"]
MODULE_RATE_COLUMNS = ["source", "module_code", "week", "rate"]
COUNT_NUMBERS = ["quantity", "positive", "active_days", "minutes", "last_day"]
GROUP_LOOKBACK_WEEKS = 8  # a student belongs to a module's group for its activity in these weeks


@dataclass
class Groups:
    """Who normally appears together: groups from the student records (school, course, year:
    always) and module groups inferred from module codes on activity (a student belongs to a
    module in week t when active on it in the GROUP_LOOKBACK_WEEKS calendar weeks before t)."""

    names: list[str]  # static groups first, then modules
    static: np.ndarray  # (S, n static) bool
    rows_s: np.ndarray  # module activity rows: student position ...
    rows_g: np.ndarray  # ... group position (n static + module index) ...
    rows_w: np.ndarray  # ... week position (may be negative: weeks before the span), sorted
    _pairs: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def members(self, t: int) -> np.ndarray:
        """(S, G) membership in week position t."""
        S, n_static = self.static.shape
        out = np.zeros((S, len(self.names)), bool)
        out[:, :n_static] = self.static
        s, g = self.module_members(t)
        out[s, g] = True
        return out

    def module_members(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """(student, group) positions of the module groups' members in week position t, each
        membership once."""
        if self._pairs is None:
            self._pairs = self._memberships()
        s, g, weeks, first = self._pairs[:4]
        lo, hi = t - GROUP_LOOKBACK_WEEKS - first, t - first
        lo, hi = min(max(lo, 0), weeks.shape[1] - 1), min(max(hi, 0), weeks.shape[1] - 1)
        member = weeks[:, hi] > weeks[:, lo]
        return s[member], g[member]

    def recent(self, t: int) -> pd.DataFrame:
        """MODULE_WEEK_COLUMNS of the weeks up to week position t (Carry.module_weeks)."""
        if self._pairs is None:
            self._pairs = self._memberships()
        s, g, _, first, active = self._pairs
        bits = np.zeros(len(s), np.uint8)
        for j in range(GROUP_LOOKBACK_WEEKS):
            column = t - j - first + 1  # `active` column of week position t - j
            if 1 <= column < active.shape[1]:
                bits |= (active[:, column] > 0).astype(np.uint8) << j
        n_static = self.static.shape[1]
        names = np.array([n.removeprefix("module ") for n in self.names[n_static:]], object)
        kept = bits > 0
        return pd.DataFrame(
            {"s": s[kept], "module_code": names[g[kept] - n_static], "weeks": bits[kept]}
        )

    def _memberships(self) -> tuple:
        """Each (student, group) pair once, with its running count of active weeks (column j:
        weeks before week position first + j): a pair is a member in week t when it was active
        in one of the GROUP_LOOKBACK_WEEKS weeks before."""
        n_static = self.static.shape[1]
        M = max(len(self.names) - n_static, 1)
        key = self.rows_s * M + (self.rows_g - n_static)
        # pairs by hashing, in key order (a few hundred thousand distinct pairs among a million
        # rows at 40,000 students: the sort of every row cost three times more), not a table
        # of S * M slots: its first touch (64 MB at 400 modules) cost more still
        pair, _ = pd.factorize(key, sort=True)
        once = np.zeros(int(pair.max()) + 1 if len(pair) else 0, np.int64)
        once[pair[::-1]] = np.arange(len(pair))[::-1]  # each pair's first row
        first = int(self.rows_w[0]) if len(key) else 0
        span = int(self.rows_w[-1]) - first + 1 if len(key) else 0
        active = np.zeros((len(once), span + 1), np.int32)
        active[pair, self.rows_w - first + 1] = 1
        return (
            self.rows_s[once],
            self.rows_g[once],
            np.cumsum(active, axis=1, dtype=np.int32),
            first,
            active,
        )


def _groups(
    students: pd.Index,
    groups,
    rate: Rows,
    modules: np.ndarray,
    W: int,
    carried: pd.DataFrame | None = None,
) -> Groups:
    """Groups from the student records (`groups`: student_id, group) and module codes on the
    attendance/online rows (`rate`: read from GROUP_LOOKBACK_WEEKS before the span on, when
    given; `carried`: Carry.module_weeks of the weeks before)."""
    S = len(students)
    static_names: list[str] = []
    static = np.zeros((S, 0), bool)
    if groups is not None and len(groups):
        s = positions(groups["student_id"], students)
        code, names = factor(groups["group"])  # a categorical column: its own codes
        ok = (s >= 0) & (code >= 0)
        present = np.flatnonzero(np.bincount(code[ok], minlength=len(names)))
        static_names = sorted(str(name) for name in names[present])
        lookup = np.zeros(len(names), np.int64)
        lookup[present] = pd.Index(static_names).get_indexer(names[present].astype(str))
        static = np.zeros((S, len(static_names)), bool)
        static[s[ok], lookup[code[ok]]] = True
    m, w, s = rate["m"], rate["w"], rate["s"]
    if carried is not None and len(carried):  # the weeks before, oldest first
        bits = carried["weeks"].to_numpy(np.uint8)
        cm = pd.Index(modules).get_indexer(carried["module_code"])
        cs = carried["s"].to_numpy(np.int64)
        parts = [
            (cs[on], cm[on], np.full(int(on.sum()), -1 - j, np.int64))
            for j in reversed(range(GROUP_LOOKBACK_WEEKS))
            for on in [(bits >> j) & 1 == 1]
        ]
        s = np.concatenate([p[0] for p in parts] + [s])
        m = np.concatenate([p[1] for p in parts] + [m])
        w = np.concatenate([p[2] for p in parts] + [w])
    named = np.append(modules != "", False)[m]  # code -1: no module
    keep = named & (s >= 0) & (w >= -GROUP_LOOKBACK_WEEKS) & (w < W)
    m, w, s = m[keep], w[keep], s[keep]
    # rows sorted by week (as read: weeks in order); a (student, module, week) may repeat (one
    # per mode), which only sets the same membership twice
    if len(w) and (np.diff(w) < 0).any():
        order = np.argsort(w, kind="stable")
        m, w, s = m[order], w[order], s[order]
    used = np.flatnonzero(np.bincount(m, minlength=len(modules)))
    number = np.zeros(len(modules), np.int64)
    number[used] = np.arange(len(used))  # `modules` are sorted: so are the module groups
    g = number[m]
    return Groups(
        static_names + [f"module {name}" for name in modules[used]],
        static,
        s,
        g + len(static_names),
        w,
    )


@dataclass
class Inputs:
    """Everything the engine needs, aligned on (students, weeks, sources)."""

    student_ids: pd.Index
    weeks: np.ndarray  # datetime64[D] Mondays
    teaching: np.ndarray  # (W,) bool
    exempt: np.ndarray  # (S, W) bool
    sources: list[str]
    value: np.ndarray  # (S, W, K) the measure, NaN when not applicable
    count: np.ndarray  # (S, W, K) raw numerator (sessions, active days, on-time, minutes, quantity)
    expected: np.ndarray  # (S, W, K) sessions/submissions due, NaN for count sources
    vle_events: np.ndarray  # (S, W)
    vle_last_day: np.ndarray  # (S, W) epoch day of the last VLE activity so far (-1 never)
    missed: np.ndarray  # (S, W) submissions due that week and missing
    module_events: pd.DataFrame = field(default_factory=pd.DataFrame)  # module-level DQ events
    timetabled: np.ndarray | None = None  # (S, len(RATE_SOURCES)) measured by rate
    used_before: np.ndarray | None = None  # (S, K) sources used before weeks[0]
    module_rates: pd.DataFrame = field(default_factory=pd.DataFrame)  # MODULE_RATE_COLUMNS
    groups: Groups | None = None  # who normally appears together (systemic drops of a group)

    def used_so_far(self, rows=slice(None), weeks: int | None = None) -> np.ndarray:
        """(n, weeks, K) whether each student (of `rows`) has had activity or expected counts per
        source by each week (before these weeks included)."""
        seen = (self.count[rows, :weeks] > 0) | (np.nan_to_num(self.expected[rows, :weeks]) > 0)
        used = np.logical_or.accumulate(seen, axis=1)
        if self.used_before is not None:
            used |= self.used_before[rows][:, None, :]
        return used

    def carry(self, t: int | None = None) -> Carry:
        """What the weeks after week position t (default: the last) need from these weeks.
        `timetabled` is over every week here: a student timetabled only later is measured by
        rate in the earlier weeks too."""
        S, W, K = self.value.shape
        t = W - 1 if t is None else t
        used = self.used_so_far(weeks=t + 1)[:, -1] if W else np.zeros((S, K), bool)
        last = self.vle_last_day[:, t] if W else np.full(S, -1, np.int64)
        rates = self.module_rates
        if len(rates) and W:
            through = int(week_number((self.weeks[t] - EPOCH).astype(np.int64)))
            rates = rates[rates["week"].to_numpy(np.int64) <= through]
        recent = self.groups.recent(t) if self.groups is not None else None
        return Carry(
            self.timetabled.copy(), last.copy(), used, rates.reset_index(drop=True), recent
        )


def _bincount(rows, cols, weights, shape) -> np.ndarray:
    flat = np.asarray(rows, np.int64) * shape[1] + np.asarray(cols, np.int64)
    return np.bincount(flat, weights=weights, minlength=shape[0] * shape[1]).reshape(shape)


def _rate_sums(rate: Rows, expected: Rows, names: pd.Index, shape: tuple, M: int) -> Rows:
    """Sessions expected and attended per (week, student, mode, module), one row per key in
    that order (r: 0 in person/attendance, 1 online; m: M for no module). Reads come in this
    order (the store groups by student, source and module; a cohort's expected sessions are
    built week by week), so the one sort of the keys merges a few sorted runs."""
    S, W = shape
    mode = np.array([RATE_SOURCES.index(n) if n in RATE_SOURCES else -1 for n in names] + [-1])
    r = mode[rate["k"]]
    rate = subset({**rate, "r": r}, r >= 0)
    online = np.where(
        expected["online"], RATE_SOURCES.index(ONLINE), RATE_SOURCES.index(ATTENDANCE)
    )
    expected = {**expected, "r": online}

    def key(rows: Rows) -> np.ndarray:
        module = np.where(rows["m"] >= 0, rows["m"], M)
        return ((rows["w"] * S + rows["s"]) * 2 + rows["r"]) * (M + 1) + module

    keys, inverse = distinct_keys(np.concatenate([key(expected), key(rate)]))
    n = len(expected["s"])
    out = {
        "expected": np.bincount(inverse[:n], expected["sessions"], minlength=len(keys)),
        "attended": np.bincount(inverse[n:], rate["quantity"], minlength=len(keys)),
        "m": keys % (M + 1),
    }
    keys = keys // (M + 1)
    out["r"], keys = keys % 2, keys // 2
    out["s"], out["w"] = keys % S, keys // S
    return out


def _module_weeks(sums: Rows, teaching: np.ndarray, modules: np.ndarray) -> pd.DataFrame:
    """Per (mode, module, teaching week): students expected (sessions > 0), those of them who
    attended none, sessions attended and expected."""
    M, W = len(modules), len(teaching)
    keep = (sums["expected"] > 0) & (sums["m"] < M)
    keep[keep] = teaching[sums["w"][keep]]
    attended = sums["attended"][keep]
    sm = pd.DataFrame(
        {
            "mw": (sums["r"][keep] * M + sums["m"][keep]) * W + sums["w"][keep],
            "zero": attended <= 0,
            "attended": attended,
            "expected": sums["expected"][keep],
        }
    )
    mw = (
        sm.groupby("mw")
        .agg(
            students=("zero", "size"),
            zero=("zero", "sum"),
            att=("attended", "sum"),
            exp=("expected", "sum"),
        )
        .reset_index()
    )
    code = mw.pop("mw").to_numpy(np.int64)
    mw.insert(0, "module_code", modules[code // W % max(M, 1)] if len(code) else [])
    mw.insert(1, "w", code % W)
    mw.insert(0, "r", code // W // max(M, 1))
    return mw


def _module_systemic(
    mw: pd.DataFrame, config: dict, source: str, week0: int, history: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(module weeks whose sessions most expected students missed although the module's students
    usually attend, this source's module rates of every teaching week so far), from this
    source's `_module_weeks`. The usual rate is the median over the module's teaching weeks so
    far, this one included (so it never depends on later weeks)."""
    cols = ["module_code", "w", "students", "share"]
    mw = mw.drop(columns="r").reset_index(drop=True)
    mw["rate"] = mw["att"] / mw["exp"]
    mw["week"] = mw["w"] + week0
    rates = pd.concat(
        [history.assign(new=False), mw[MODULE_RATE_COLUMNS[1:]].assign(source=source, new=True)],
        ignore_index=True,
    ).sort_values(["module_code", "week"], kind="stable", ignore_index=True)
    usual = rates.groupby("module_code", sort=False)["rate"].expanding().median()
    rates["usual"] = usual.reset_index(level=0, drop=True)
    mw = mw.merge(
        rates.loc[rates["new"], ["module_code", "week", "usual"]], on=["module_code", "week"]
    )
    mw["share"] = mw["zero"] / mw["students"]
    hit = (
        (mw["rate"] < config["systemic_drop_ratio"] * mw["usual"])
        & (mw["share"] >= config["systemic_module_share"])
        & (mw["students"] >= config["systemic_module_min_students"])
    )
    out = mw[hit][cols].reset_index(drop=True)
    out["source"] = source
    return out, rates[MODULE_RATE_COLUMNS]


def _weekly_forms(activity, expected, submissions, horizon):
    """Daily frames aggregated to the weekly forms of lib.engagement.weekly (weekly ones kept)."""
    if isinstance(activity, pd.DataFrame):
        if horizon is None and len(activity):
            horizon = pd.to_datetime(activity["day"]).max()
        activity = weekly_activity(activity)
    if "day" in expected.columns:
        expected = weekly_expected(expected)
    if "due_at" in submissions.columns:
        submissions = weekly_submissions(submissions)
    return activity, expected, submissions, horizon


def complete_through(horizon) -> pd.Timestamp:
    """The last day of complete weeks at this data horizon: the horizon itself once its week's
    Friday is reached, else the Sunday before its week."""
    horizon = pd.Timestamp(horizon).normalize()
    if horizon.weekday() < 4:
        horizon = horizon - pd.Timedelta(days=horizon.weekday() + 1)
    return horizon


def _week_span(
    rate: pd.DataFrame,
    count: pd.DataFrame,
    expected: pd.DataFrame,
    submissions: pd.DataFrame,
    calendar: pd.DataFrame,
    horizon,
) -> np.ndarray:
    """Mondays from the first week with any data to the data horizon: the last week with activity
    that is complete (its Friday reached); later expected sessions and submissions due are not yet
    missed. Without activity the span ends with the last week of any data."""
    numbers = [f["week"].to_numpy(np.int64) for f in (rate, count, expected, submissions) if len(f)]
    days = []
    if not calendar.empty:
        days = [
            week_number(epoch_days(calendar["start"])),
            week_number(epoch_days(calendar["end"])),
        ]
    # the first and last of each (millions of week numbers: never concatenated)
    every = [a for a in numbers + days if len(a)]
    ends = np.array([[a.min(), a.max()] for a in every], np.int64).reshape(-1, 2)
    if horizon is None or pd.isna(horizon):
        if not len(ends):
            today = pd.Timestamp.today().normalize()
            return week_range(today.date(), today.date())
        horizon = pd.Timestamp(week_monday(ends[:, 1].max())) + pd.Timedelta(days=6)
    horizon = complete_through(horizon)
    first = pd.Timestamp(week_monday(ends[:, 0].min())) if len(ends) else horizon
    return week_range(min(first, horizon).date(), horizon.date())


def _outside(students: pd.Index, weeks: np.ndarray, spans: pd.DataFrame | None) -> np.ndarray:
    """(S, W) weeks wholly before a student's start or after their leaving date."""
    out = np.zeros((len(students), len(weeks)), bool)
    if spans is None or not len(spans) or not len(weeks):
        return out
    s = students.get_indexer(spans["student_id"].astype(str))
    ok = s >= 0
    monday = weeks.astype("datetime64[D]")
    start = pd.to_datetime(spans["start"]).to_numpy("datetime64[D]")[ok]
    end = pd.to_datetime(spans["end"]).to_numpy("datetime64[D]")[ok]
    before = ~np.isnat(start)[:, None] & (monday[None, :] + 6 < start[:, None])
    after = ~np.isnat(end)[:, None] & (monday[None, :] > end[:, None])
    out[s[ok]] = before | after
    return out


def _rows(
    frame: pd.DataFrame, students: pd.Index, week0: int, numbers: list[str], texts: dict
) -> Rows:
    """A weekly frame as arrays: student (s) and week (w) positions, each text column of `texts`
    as codes of its vocabulary (text column name: (code name, vocabulary)), numbers as given."""
    rows = {
        "s": positions(frame["student_id"], students),
        "w": frame["week"].to_numpy(np.int64) - week0,
    }
    for column, (name, vocabulary) in texts.items():
        rows[name] = recode(*factor(frame[column]), vocabulary)
    for column in numbers:
        rows[column] = frame[column].astype(bool if column == "online" else float).to_numpy()
    return rows


def _located(rows: Rows, W: int) -> Rows:
    """Rows of known students inside the week span."""
    return subset(rows, (rows["s"] >= 0) & (rows["w"] >= 0) & (rows["w"] < W))


def _vocabulary(*columns: pd.Series) -> pd.Index:
    """The sorted distinct texts of some columns."""
    values: set[str] = set()
    for column in columns:
        values.update(factor(column)[1])
    return pd.Index(sorted(values), dtype=object)


def _rate_measure(
    sums, mw, r, any_expected, modules, config, source, shape, week0, history, timetabled
):
    """(attended, value, expected-or-NaN, module events, module rates, timetabled) of attendance
    (r 0) or online (r 1) from `_rate_sums` and `_module_weeks`; a student is measured by rate
    once any expected session is known for them (`timetabled`: before these weeks), else by
    sessions attended."""
    S, W = shape
    history = history[history["source"] == source] if len(history) else history
    if any_expected:
        dq, rates = _module_systemic(mw[mw["r"] == r], config, source, week0, history)
    else:
        dq, rates = pd.DataFrame(columns=["module_code", "w", "students", "share"]), history
    mine = sums["r"] == r
    if len(dq):  # remove the systemic module weeks from both sides
        dropped = np.zeros((len(modules) + 1, W), bool)
        dropped[pd.Index(modules).get_indexer(dq["module_code"]), dq["w"].to_numpy(np.int64)] = True
        mine &= ~dropped[sums["m"], sums["w"]]
    cell = sums["s"] * W + sums["w"]
    n_exp = np.bincount(cell, np.where(mine, sums["expected"], 0.0), S * W).reshape(shape)
    n_att = np.bincount(cell, np.where(mine, sums["attended"], 0.0), S * W).reshape(shape)
    has_timetable = timetabled | (n_exp.sum(axis=1) > 0)
    rate = np.minimum(n_att, n_exp) / np.where(n_exp > 0, n_exp, 1)
    value = np.where(has_timetable[:, None], np.where(n_exp > 0, rate, np.nan), n_att)
    expected = np.where(has_timetable[:, None], n_exp, np.nan)
    return n_att, value, expected, dq, rates, has_timetable


def build_inputs(
    students: pd.Index,
    activity: pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame],
    expected: pd.DataFrame,
    submissions: pd.DataFrame,
    calendar: pd.DataFrame,
    exemptions: pd.DataFrame,
    config: dict,
    horizon=None,
    weeks: np.ndarray | None = None,
    sources: list[str] | None = None,
    carry: Carry | None = None,
    groups: pd.DataFrame | None = None,
    spans: pd.DataFrame | None = None,
) -> Inputs:
    """Arrays for the engine from long frames, daily or already weekly (lib.engagement.weekly).

    Daily forms: activity (student_id, source, day, module_code, quantity, minutes), expected
    (student_id, module_code, day, online: one row per expected session), submissions (student_id,
    due_at, status: on_time | late | missing). Weekly forms: activity as (rate, count) frames.
    horizon: the last day with any activity (taken from daily activity when not given).
    weeks, sources, carry: build only these weeks (Mondays), after earlier weeks that had these
    sources and left this carry (sources seen first in these weeks are appended).
    groups: student_id, group rows from the student records (school, course, year); module groups
    come from the activity's module codes (rows of earlier weeks serve them only).
    spans: student_id, start, end (dates, either may be empty): a student is not measured (as if
    exempt) in weeks wholly before they started or after they left (status withdrawn, completed)."""
    students = pd.Index(students.astype(str), name="student_id")
    activity, expected, submissions, horizon = _weekly_forms(
        activity, expected, submissions, horizon
    )
    rate_frame, counted_frame = activity
    if weeks is None:
        weeks = _week_span(rate_frame, counted_frame, expected, submissions, calendar, horizon)
    S, W = len(students), len(weeks)
    shape = (S, W)
    week0 = int(week_number((weeks[0] - EPOCH).astype(np.int64))) if W else 0
    teaching = teaching_weeks(weeks, calendar)
    exempt = exempt_matrix(students, weeks, exemptions) | _outside(students, weeks, spans)
    modules = _vocabulary(
        rate_frame["module_code"],
        expected["module_code"],
        *([carry.module_weeks["module_code"]] if carry and carry.module_weeks is not None else []),
    )
    names = _vocabulary(rate_frame["source"], counted_frame["source"])
    module_texts = {"module_code": ("m", modules)}
    rate_all = _rows(
        rate_frame, students, week0, ["quantity"], {"source": ("k", names), **module_texts}
    )
    carried = carry.module_weeks if carry is not None else None
    together = _groups(students, groups, rate_all, modules.to_numpy(), W, carried)
    rate = _located(rate_all, W)
    counted = _located(
        _rows(counted_frame, students, week0, COUNT_NUMBERS, {"source": ("k", names)}), W
    )
    numbers = ["online", "sessions"]
    expected = _located(_rows(expected, students, week0, numbers, module_texts), W)
    subs = _located(_rows(submissions, students, week0, ["due", "on_time", "missing"], {}), W)
    seen = np.unique(np.concatenate([rate["k"], counted["k"]]))
    present = set(names[seen[seen >= 0]])
    known = list(CORE_ACTIVITY_SOURCES) if sources is None else list(sources)
    sources = known + sorted(present - set(known))
    K = len(sources)
    value = np.full((S, W, K), np.nan, np.float64)
    count = np.zeros((S, W, K), np.float64)
    expect = np.full((S, W, K), np.nan, np.float64)
    sums = _rate_sums(rate, expected, names, shape, len(modules))
    mw = _module_weeks(sums, teaching, modules.to_numpy())
    any_expected = [(expected["online"] == (s == ONLINE)).any() for s in RATE_SOURCES]
    history = carry.module_rates if carry is not None else pd.DataFrame(columns=MODULE_RATE_COLUMNS)
    timetabled = np.zeros((S, len(RATE_SOURCES)), bool)
    module_events, module_rates = [], []
    code = dict(zip(names, range(len(names)), strict=True))
    for k, source in enumerate(sources):
        mine = code.get(source, -2)
        if source in RATE_SOURCES:
            r = RATE_SOURCES.index(source)
            before = carry.timetabled[:, r] if carry is not None else np.zeros(S, bool)
            measured = _rate_measure(
                sums,
                mw,
                r,
                any_expected[r],
                modules.to_numpy(),
                config,
                source,
                shape,
                week0,
                history,
                before,
            )
            count[:, :, k], value[:, :, k], expect[:, :, k], dq, rates, timetabled[:, r] = measured
            module_events.append(dq)
            module_rates.append(rates)
            continue
        a = subset(counted, counted["k"] == mine)
        column = {VLE: "active_days", LECTURE_CAPTURE: "minutes"}.get(source, "quantity")
        weights = np.where(np.isnan(a[column]), 0.0, a[column])
        count[:, :, k] = _bincount(a["s"], a["w"], weights, shape)
        if source != SUBMISSION:
            value[:, :, k] = count[:, :, k]

    vle = subset(counted, (counted["k"] == code.get(VLE, -2)) & (counted["positive"] > 0))
    vle_events = _bincount(vle["s"], vle["w"], vle["positive"], shape)
    last = np.full(S * W, -1, np.int64)
    vday = vle["last_day"].astype(np.int64)
    np.maximum.at(last, vle["s"] * W + vle["w"], vday)
    last_before = carry.vle_last_day if carry is not None else np.full(S, -1, np.int64)
    seeded = np.concatenate([last_before[:, None], last.reshape(shape)], axis=1)
    vle_last_day = np.maximum.accumulate(seeded, axis=1)[:, 1:]

    k = sources.index(SUBMISSION)
    due = _bincount(subs["s"], subs["w"], subs["due"], shape)
    on_time = _bincount(subs["s"], subs["w"], subs["on_time"], shape)
    missed = _bincount(subs["s"], subs["w"], subs["missing"], shape)
    value[:, :, k] = np.where(due > 0, on_time / np.where(due > 0, due, 1), np.nan)
    expect[:, :, k] = np.where(due > 0, due, np.nan)
    count[:, :, k] = np.where(due > 0, on_time, count[:, :, k])

    events = pd.concat(module_events, ignore_index=True) if module_events else pd.DataFrame()
    if len(events):
        events["week_start"] = weeks[events["w"].to_numpy(np.int64)]
    used_before = np.zeros((S, K), bool)
    if carry is not None:
        used_before[:, : carry.used.shape[1]] = carry.used
    return Inputs(
        students,
        weeks,
        teaching,
        exempt,
        sources,
        value,
        count,
        expect,
        vle_events,
        vle_last_day,
        missed,
        events,
        timetabled,
        used_before,
        pd.concat(module_rates, ignore_index=True) if module_rates else history,
        together,
    )
