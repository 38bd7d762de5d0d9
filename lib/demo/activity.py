"""The activity truth: per-student habits, planted episodes, attendance, online, VLE, capture and submissions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from lib.demo.population import Population
from lib.demo.term_calendar import EXAM, PRE_TERM, READING, TEACHING, VACATION, AcademicCalendar

ATT, ONL, VLE, SUB, LC = 0, 1, 2, 3, 4
SOURCE_NAMES = ["attendance", "online", "vle", "submission", "lecture_capture"]

NONE, SUDDEN, FADE, SOURCE_DROP, DIP, FROM_START, EXEMPT = range(7)
KIND_NAMES = {
    SUDDEN: "sudden_stop",
    FADE: "gradual_fade",
    SOURCE_DROP: "source_drop",
    DIP: "dip_recovery",
    FROM_START: "disengaged_from_start",
}
EXEMPT_REASONS = ["illness", "approved_leave", "placement", "interruption"]
EXEMPT_NOTES = {
    "illness": "GP fit note received",
    "approved_leave": "Compassionate leave approved by Senior Tutor",
    "placement": "Short clinical placement off site",
    "interruption": "Interruption of studies, returning",
}
BIG = 1 << 30


@dataclass
class Traits:
    """Per-student habit parameters (arrays aligned with pop.students)."""

    att: np.ndarray
    online: np.ndarray
    vle_active: np.ndarray
    vle_lam: np.ndarray
    vac_vle: np.ndarray
    echo_user: np.ndarray
    echo_rate: np.ndarray
    night_owl: np.ndarray
    sub_base: np.ndarray
    late: np.ndarray
    noise: np.ndarray  # (n, n_weeks) weekly multiplicative noise, week = day // 7


@dataclass
class Episodes:
    """Planted per-student episodes (kind NONE when nothing planted)."""

    kind: np.ndarray
    onset: np.ndarray  # day index
    end: np.ndarray  # first day back to normal (BIG = never)
    source: np.ndarray  # source code for SOURCE_DROP
    fade: np.ndarray  # days to fade fully for FADE

    def mult(self, src: int, s: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Multiplier on the propensity of source `src` for students `s` on days `d`."""
        k, on, en = self.kind[s], self.onset[s], self.end[s]
        m = np.ones(len(s))
        active = (d >= on) & (d < en)
        m[(k == SUDDEN) & active] = 0.03
        f = (k == FADE) & active
        m[f] = 1.0 - 0.92 * np.clip((d[f] - on[f]) / self.fade[s][f], 0.0, 1.0)
        m[(k == SOURCE_DROP) & active & (self.source[s] == src)] = 0.0
        m[((k == DIP) | (k == EXEMPT)) & active] = 0.05
        m[k == FROM_START] = 0.06
        return m


@dataclass
class Truth:
    """Everything generated; exports and canonical files are renderings of this."""

    until_day: int
    traits: Traits
    episodes: Episodes
    ground_truth: pd.DataFrame
    exemptions: pd.DataFrame
    planted: dict
    att_stu: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # scanned in-person
    att_sess: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    att_offset: np.ndarray = field(
        default_factory=lambda: np.zeros(0, np.int64)
    )  # scan secs after start
    onl_stu: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    onl_sess: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    onl_secs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    vle_stu: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    vle_day: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    vle_mod: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    vle_qty: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    lc_stu: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    lc_sess: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    lc_views: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    lc_secs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    lc_last: np.ndarray = field(default_factory=lambda: np.zeros(0, "datetime64[s]"))
    assignments: pd.DataFrame = field(default_factory=pd.DataFrame)
    sub_stu: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    sub_asg: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    sub_at: np.ndarray = field(default_factory=lambda: np.zeros(0, "datetime64[s]"))


def round_minutes(secs: np.ndarray) -> np.ndarray:
    """Whole minutes, rounding half up (the rule documented in planted.json)."""
    return (np.asarray(secs) + 30) // 60


def make_traits(rng: np.random.Generator, n: int, n_days: int, pt: np.ndarray) -> Traits:
    n_weeks = n_days // 7 + 2
    return Traits(
        att=rng.beta(6, 2, n) * np.where(pt, 0.85, 1.0),
        online=rng.beta(5, 2.5, n),
        vle_active=rng.beta(5, 2.5, n) * np.where(pt, 0.7, 1.0),
        vle_lam=rng.lognormal(np.log(1.8), 0.5, n),
        vac_vle=rng.random(n) < 0.3,
        echo_user=rng.random(n) < 0.65,
        echo_rate=rng.beta(2, 5, n),
        night_owl=rng.random(n) < 0.18,
        sub_base=rng.beta(25, 1.2, n),
        late=rng.beta(1, 12, n),
        noise=rng.lognormal(0.0, 0.15, (n, n_weeks)),
    )


def _teaching_window(cal: AcademicCalendar, until_day: int) -> list[int]:
    """Indices of teaching weeks whose Monday-Friday lies on or before `until`."""
    return [w for w, m in enumerate(cal.teaching_mondays) if cal.day_index(m) + 4 <= until_day]


def _cover_every_kind(kinds: list[int], new: np.ndarray, all_kinds: list[int]) -> None:
    """Re-label a few episodes so that every shape is planted at least once (when there is room)."""
    for k in all_kinds:
        if k in kinds:
            continue
        for i in range(len(kinds)):
            common = max(set(kinds), key=kinds.count)
            if kinds[i] == common and kinds.count(common) > 1 and (k != FROM_START or new[i]):
                kinds[i] = k
                break


def plant(
    rng: np.random.Generator,
    pop: Population,
    cal: AcademicCalendar,
    tt: pd.DataFrame,
    until_day: int,
) -> tuple[Episodes, pd.DataFrame, pd.DataFrame, dict]:
    """Choose episodes, exemptions and systemic events; returns (episodes, ground_truth, exemptions, planted)."""
    st = pop.students
    n = len(st)
    ep = Episodes(
        np.zeros(n, np.int8),
        np.full(n, BIG, np.int64),
        np.full(n, BIG, np.int64),
        np.full(n, -1, np.int64),
        np.full(n, 28, np.int64),
    )
    weeks = _teaching_window(cal, until_day)
    mondays = [cal.day_index(cal.teaching_mondays[w]) for w in weeks]
    gt: list[tuple[str, str, str, str]] = []
    planted: dict = {"episodes": [], "exemptions": []}
    iso = lambda d: cal.day(d).isoformat()  # noqa: E731
    order = rng.permutation(n)
    n_ep = int(round(n * 0.09))
    n_ex = max(1, int(round(n * 0.006)))
    chosen, ex_students = order[:n_ep], order[n_ep : n_ep + n_ex]
    new_student = (st["year_of_study"].to_numpy() == 1) | (st["level"].to_numpy() == "PGT")
    if len(weeks) >= 6:
        first_ok, last_ok = 3, len(weeks) - 3
        all_kinds = [SUDDEN, FADE, SOURCE_DROP, DIP, FROM_START]
        p_new, p_old = [0.22, 0.22, 0.18, 0.18, 0.2], [0.28, 0.27, 0.22, 0.23, 0.0]
        kinds = [int(rng.choice(all_kinds, p=p_new if new_student[s] else p_old)) for s in chosen]
        _cover_every_kind(kinds, new_student[chosen], all_kinds)
        for s, k in zip(chosen.tolist(), kinds, strict=True):
            if k == FROM_START:
                onset, end = mondays[0], BIG
            elif k == DIP:
                dur = int(rng.integers(2, 4))
                hi = max(first_ok, len(weeks) - dur - 2)
                w = int(rng.integers(first_ok, hi + 1))
                onset = mondays[w] + int(rng.integers(0, 3))
                end = mondays[min(w + dur, len(weeks) - 1)]
            else:
                w = int(rng.integers(first_ok, last_ok + 1))
                onset, end = mondays[w] + int(rng.integers(0, 3)), BIG
            ep.kind[s], ep.onset[s], ep.end[s] = k, onset, end
            detail = {
                "student_id": st.at[s, "student_id"],
                "kind": KIND_NAMES[k],
                "onset": iso(onset),
            }
            if k == SOURCE_DROP:
                ep.source[s] = int(rng.choice([ATT, VLE], p=[0.6, 0.4]))
                detail["source"] = SOURCE_NAMES[ep.source[s]]
            if k == FADE:
                ep.fade[s] = int(rng.integers(21, 43))
                detail["fade_days"] = int(ep.fade[s])
            gt.append(
                (
                    st.at[s, "student_id"],
                    KIND_NAMES[k],
                    iso(onset),
                    iso(end - 1) if end < BIG else "",
                )
            )
            planted["episodes"].append(detail)
    ex_rows = []
    if len(weeks) >= 5:
        for j, s in enumerate(ex_students.tolist()):
            reason = EXEMPT_REASONS[j % len(EXEMPT_REASONS)]
            dur = int(rng.integers(2, 4))
            w = int(rng.integers(2, max(3, len(weeks) - dur - 1)))
            onset = mondays[w] + int(rng.integers(0, 3))
            end = mondays[min(w + dur, len(weeks) - 1)]
            ep.kind[s], ep.onset[s], ep.end[s] = EXEMPT, onset, end
            ex_start, ex_end = onset - int(rng.integers(0, 3)), end - 1 + int(rng.integers(0, 3))
            sid = st.at[s, "student_id"]
            ex_rows.append((sid, reason, iso(ex_start), iso(ex_end), EXEMPT_NOTES[reason]))
            gt.append((sid, "exemption", iso(ex_start), iso(ex_end)))
            planted["exemptions"].append(
                {
                    "student_id": sid,
                    "reason": reason,
                    "drop_onset": iso(onset),
                    "drop_end": iso(end - 1),
                    "exemption_start": iso(ex_start),
                    "exemption_end": iso(ex_end),
                }
            )
    exemptions = pd.DataFrame(ex_rows, columns=["student_id", "reason", "start", "end", "note"])

    planted["systemic"] = []
    if len(weeks) >= 4:
        w = weeks[int(rng.integers(2, len(weeks)))]
        monday = cal.day_index(cal.teaching_mondays[w])
        in_person = tt[(tt["week"] == w) & ~tt["online"]]
        buildings = sorted(in_person["building"].unique())
        b = buildings[int(rng.integers(len(buildings)))]
        hit = in_person[in_person["building"] == b]
        mods = sorted(pop.modules["module_code"].to_numpy()[hit["module_idx"].unique()].tolist())
        gt.append(("", "systemic_qr_outage", iso(monday), iso(monday + 6)))
        planted["systemic"].append(
            {
                "kind": "systemic_qr_outage",
                "building": b,
                "week": w,
                "start": iso(monday),
                "end": iso(monday + 6),
                "modules": mods,
                "event_ids": hit["event_id"].tolist(),
            }
        )
        planted["_qr_outage"] = (w, b)
        others = [x for x in weeks[2:] if x != w]
        if others:
            w2 = others[int(rng.integers(len(others)))]
            tue = cal.day_index(cal.teaching_mondays[w2]) + 1
            gt.append(("", "systemic_vle_outage", iso(tue), iso(tue + 2)))
            planted["systemic"].append(
                {
                    "kind": "systemic_vle_outage",
                    "start": iso(tue),
                    "end": iso(tue + 2),
                    "note": "Moodle unavailable site-wide: no VLE events at all on these days",
                }
            )
            planted["_vle_outage"] = (tue, tue + 3)
    gt_df = pd.DataFrame(gt, columns=["student_id", "kind", "onset", "end"])
    return ep, gt_df, exemptions, planted


def _pairs_by_module(pop: Population, n_modules: int) -> list[np.ndarray]:
    mods = pop.student_modules
    s_idx, j = np.nonzero(mods >= 0)
    m = mods[s_idx, j]
    order = np.lexsort((s_idx, m))
    s_sorted, m_sorted = s_idx[order], m[order]
    bounds = np.searchsorted(m_sorted, np.arange(n_modules + 1))
    return [s_sorted[bounds[k] : bounds[k + 1]] for k in range(n_modules)]


def _day_factor(cal: AcademicCalendar, vac_student: bool) -> np.ndarray:
    kind = cal.day_kind
    weekday = (np.arange(cal.n_days) + cal.first_day.weekday()) % 7
    weekend = weekday >= 5
    f = np.select(
        [kind == TEACHING, kind == READING, kind == EXAM, kind == VACATION, kind == PRE_TERM],
        [
            np.where(weekend, 0.45, 1.0),
            np.where(weekend, 0.3, 0.6),
            np.where(weekend, 0.6, 0.9),
            np.full(cal.n_days, 0.35 if vac_student else 0.06),
            np.full(cal.n_days, 0.15 if vac_student else 0.04),
        ],
    )
    first_term = cal.day_index(cal.teaching_mondays[0]) if cal.teaching_mondays else 0
    f[max(0, first_term - 7) : first_term] = np.where(
        weekend[max(0, first_term - 7) : first_term], 0.1, 0.3
    )
    f[cal.bank_holiday] *= 0.5
    return f


def simulate(
    rng: np.random.Generator, pop: Population, cal: AcademicCalendar, tt: pd.DataFrame, until: date
) -> Truth:
    """Generate the whole truth for days up to and including `until`."""
    st = pop.students
    n = len(st)
    until_day = min(cal.day_index(until), cal.n_days - 1)
    traits = make_traits(rng, n, cal.n_days, st["mode"].to_numpy() == "PT")
    ep, gt, exemptions, planted = plant(rng, pop, cal, tt, until_day)
    truth = Truth(until_day, traits, ep, gt, exemptions, planted)
    n_mod = len(pop.modules)
    by_mod = _pairs_by_module(pop, n_mod)

    # --- expected (student, session) pairs ------------------------------------------------------
    tt_day = tt["day"].to_numpy()
    tt_mod = tt["module_idx"].to_numpy()
    tt_group = tt["group"].to_numpy()
    ok = tt_day <= until_day
    sess_by_mod = [np.flatnonzero(ok & (tt_mod == m)) for m in range(n_mod)]
    ps, pt_ = [], []
    for m in range(n_mod):
        studs, sess = by_mod[m], sess_by_mod[m]
        if len(studs) == 0 or len(sess) == 0:
            continue
        g_stu = (studs + m) % 2 + 1
        g_ses = tt_group[sess]
        ss = np.repeat(studs, len(sess))
        tt_ = np.tile(sess, len(studs))
        keep = (g_ses[np.tile(np.arange(len(sess)), len(studs))] == 0) | (
            np.repeat(g_stu, len(sess)) == g_ses[np.tile(np.arange(len(sess)), len(studs))]
        )
        ps.append(ss[keep])
        pt_.append(tt_[keep])
    e_stu = np.concatenate(ps) if ps else np.zeros(0, np.int64)
    e_ses = np.concatenate(pt_) if pt_ else np.zeros(0, np.int64)
    truth.planted["expected_pairs"] = int(len(e_stu))

    online = tt["online"].to_numpy()[e_ses]
    etype = tt["event_type"].to_numpy()[e_ses]
    day = tt_day[e_ses]
    tf = np.select(
        [etype == "lecture", etype == "tutorial", etype == "lab"], [0.92, 1.08, 1.05], 1.0
    )
    base = np.where(online, traits.online[e_stu], traits.att[e_stu])
    week_in_term = tt["week"].to_numpy()[e_ses]
    drift = 1.0 - 0.008 * (week_in_term % 12)
    src = np.where(online, ONL, ATT)
    mult = np.where(online, ep.mult(ONL, e_stu, day), ep.mult(ATT, e_stu, day))
    p = np.clip(base * tf * traits.noise[e_stu, day // 7] * drift * mult, 0, 0.98)
    attended = rng.random(len(p)) < p
    del src
    dur = ((tt["end"] - tt["start"]).dt.total_seconds().to_numpy().astype(np.int64))[e_ses]

    in_person = attended & ~online
    if "_qr_outage" in planted:
        w, b = planted["_qr_outage"]
        dark = (tt["week"].to_numpy() == w) & (tt["building"].to_numpy() == b)
        lost = in_person & dark[e_ses]
        planted["systemic"][0]["attended_but_not_scanned"] = int(lost.sum())
        in_person &= ~lost
    k = int(in_person.sum())
    late = rng.random(k) < 0.12
    offset = np.where(
        late, rng.integers(300, 900, k), np.clip(rng.normal(-90, 150, k), -600, 299)
    ).astype(np.int64)
    truth.att_stu, truth.att_sess, truth.att_offset = e_stu[in_person], e_ses[in_person], offset
    on_att = attended & online
    k = int(on_att.sum())
    truth.onl_stu, truth.onl_sess = e_stu[on_att], e_ses[on_att]
    truth.onl_secs = np.maximum(60, (dur[on_att] * rng.beta(7, 1.5, k))).astype(np.int64)

    # --- lecture capture: recordings of lectures, viewed by Echo360 users ------------------------
    lec = (etype == "lecture") & traits.echo_user[e_stu]
    l_stu, l_ses, l_att, l_day = e_stu[lec], e_ses[lec], attended[lec], day[lec]
    delay = rng.geometric(0.3, len(l_stu)) - 1
    vday = l_day + delay
    pv = (
        traits.echo_rate[l_stu]
        * np.where(l_att, 0.6, 1.6)
        * ep.mult(LC, l_stu, np.minimum(vday, cal.n_days - 1))
    )
    view = (rng.random(len(l_stu)) < pv) & (vday <= until_day)
    l_stu, l_ses, vday = l_stu[view], l_ses[view], vday[view]
    k = len(l_stu)
    views = 1 + rng.poisson(0.35, k)
    secs = np.maximum(60, views * dur[lec][view] * rng.beta(2, 2.5, k)).astype(np.int64)
    hour = np.where(traits.night_owl[l_stu], rng.integers(20, 24, k), rng.integers(10, 22, k))
    start_s = tt["start"].to_numpy().astype("datetime64[s]")[l_ses]
    first = np.datetime64(cal.first_day, "s")
    last = first + (vday * 86400 + hour * 3600 + rng.integers(0, 60, k) * 60).astype(
        "timedelta64[s]"
    )
    last = np.maximum(last, start_s + (dur[lec][view] + 600).astype("timedelta64[s]"))
    same_day = (last - first).astype(np.int64) // 86400 == vday
    truth.lc_stu, truth.lc_sess, truth.lc_views = l_stu[same_day], l_ses[same_day], views[same_day]
    truth.lc_secs, truth.lc_last = secs[same_day], last[same_day]
    del e_stu, e_ses, attended, p, mult, base, tf, online, etype, day

    # --- VLE: student-days with a count of learning events, attributed to one module -------------
    days = np.arange(until_day + 1)
    f_norm, f_vac = _day_factor(cal, False)[days], _day_factor(cal, True)[days]
    if "_vle_outage" in planted:
        a, b = planted["_vle_outage"]
        f_norm[a:b] = 0
        f_vac[a:b] = 0
    out_s, out_d, out_m, out_q = [], [], [], []
    chunk = 4000
    for lo in range(0, n, chunk):
        s = np.arange(lo, min(n, lo + chunk))
        fac = np.where(traits.vac_vle[s, None], f_vac[None, :], f_norm[None, :])
        ss = np.repeat(s, len(days))
        dd = np.tile(days, len(s))
        pr = (traits.vle_active[s, None] * fac * traits.noise[s][:, days // 7]).ravel() * ep.mult(
            VLE, ss, dd
        )
        act = rng.random(len(pr)) < np.clip(pr, 0, 0.99)
        ss, dd = ss[act], dd[act]
        q = 1 + rng.poisson(traits.vle_lam[ss])
        j = (rng.random(len(ss)) * pop.n_modules_taken[ss]).astype(np.int64)
        out_s.append(ss)
        out_d.append(dd)
        out_m.append(pop.student_modules[ss, j])
        out_q.append(q)
    truth.vle_stu, truth.vle_day = np.concatenate(out_s), np.concatenate(out_d)
    truth.vle_mod, truth.vle_qty = np.concatenate(out_m), np.concatenate(out_q)

    # --- assignments and submissions ---------------------------------------------------------------
    asg = []
    for m in range(n_mod):
        dow = 3 + m % 2
        hh = 12 if m % 3 else 15
        for term in (0, 1, 2):
            tw = [w for w, t in enumerate(cal.term_of_week) if t == term]
            if not tw:
                continue
            picks = [tw[-1]] if term == 2 else sorted({tw[max(0, len(tw) // 2 - 1)], tw[-1]})
            for n_a, w in enumerate(picks, start=1):
                d = cal.teaching_mondays[w] + timedelta(days=dow)
                asg.append(
                    (
                        m,
                        datetime(d.year, d.month, d.day, hh),
                        f"{['Autumn', 'Spring', 'Summer'][term]} coursework {n_a}",
                    )
                )
    adf = pd.DataFrame(asg, columns=["module_idx", "due_at", "name"])
    adf = (
        adf[adf["due_at"].dt.date <= until]
        .sort_values(["due_at", "module_idx"], kind="stable")
        .reset_index(drop=True)
    )
    adf.insert(0, "assignment_id", [f"AS{i + 1:05d}" for i in range(len(adf))])
    adf["module_code"] = pop.modules["module_code"].to_numpy()[adf["module_idx"].to_numpy()]
    truth.assignments = adf
    a_stu, a_idx = [], []
    for a, m in enumerate(adf["module_idx"].to_numpy()):
        a_stu.append(by_mod[m])
        a_idx.append(np.full(len(by_mod[m]), a))
    s_stu = np.concatenate(a_stu) if a_stu else np.zeros(0, np.int64)
    s_asg = np.concatenate(a_idx) if a_idx else np.zeros(0, np.int64)
    due = adf["due_at"].to_numpy().astype("datetime64[s]")[s_asg]
    due_day = (due - first).astype(np.int64) // 86400
    k = len(s_stu)
    submitted = rng.random(k) < traits.sub_base[s_stu] * ep.mult(SUB, s_stu, due_day)
    is_late = rng.random(k) < traits.late[s_stu]
    shift = np.where(
        is_late,
        rng.integers(5, 4 * 24 * 60, k),
        -np.minimum(rng.exponential(1200, k).astype(np.int64) + 2, 6 * 24 * 60),
    )
    at = due + (shift * 60).astype("timedelta64[s]")
    at_day = (at - first).astype(np.int64) // 86400
    at[~submitted | (at_day > until_day)] = np.datetime64("NaT")
    order = np.lexsort((s_asg, s_stu))
    truth.sub_stu, truth.sub_asg, truth.sub_at = s_stu[order], s_asg[order], at[order]
    return truth
