"""Moodle log events of the demo truth: student learning events expanded from VLE counts, plus noise."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from lib.demo.export_common import ExportContext, hash_unit, ip_addresses, unix_time
from lib.demo.term_calendar import VACATION

# eventname, component, action, target, objecttable, crud, activity slot (-1 = course),
# Logs report event name, Logs report component, share of a student's learning events
LEARNING = [
    ("\\core\\event\\course_viewed", "core", "viewed", "course", "NULL", "r", -1,
     "Course viewed", "System", 0.34),
    ("\\mod_resource\\event\\course_module_viewed", "mod_resource", "viewed", "course_module",
     "resource", "r", 0, "Course module viewed", "File", 0.22),
    ("\\mod_page\\event\\course_module_viewed", "mod_page", "viewed", "course_module", "page",
     "r", 1, "Course module viewed", "Page", 0.10),
    ("\\mod_url\\event\\course_module_viewed", "mod_url", "viewed", "course_module", "url", "r",
     2, "Course module viewed", "URL", 0.05),
    ("\\mod_forum\\event\\discussion_viewed", "mod_forum", "viewed", "discussion",
     "forum_discussions", "r", 3, "Discussion viewed", "Forum", 0.12),
    ("\\mod_forum\\event\\post_created", "mod_forum", "created", "post", "forum_posts", "c", 3,
     "Post created", "Forum", 0.04),
    ("\\mod_quiz\\event\\attempt_submitted", "mod_quiz", "submitted", "attempt", "quiz_attempts",
     "u", 4, "Quiz attempt submitted", "Quiz", 0.05),
    ("\\mod_assign\\event\\submission_status_viewed", "mod_assign", "viewed", "submission_status",
     "assign", "r", 5, "The status of the submission has been viewed.", "Assignment", 0.08),
]  # fmt: skip
SLOT_CONTEXT = [
    "File: Lecture slides",
    "Page: Reading list",
    "URL: Library subject guide",
    "Forum: Discussion forum",
    "Quiz: Weekly quiz",
    "Assignment: Coursework submission",
]
SLOT_NAME = ["resource", "page", "url", "forum", "quiz", "assign"]


def course_id(m: int | np.ndarray):
    return 10 + m


def _cmid(m, slot):
    return 50000 + m * 10 + slot


def expand_vle(x: ExportContext) -> dict[str, np.ndarray]:
    """One entry per student learning event: student, day, module, time in day and event type.

    Times and types come from a hash of (student, day, k), so every export renders one event alike.
    """
    t = x.truth
    qty = t.vle_qty.astype(np.int64)
    row = np.repeat(np.arange(len(qty)), qty)
    k = np.arange(len(row)) - np.repeat(np.cumsum(qty) - qty, qty)
    stu, day, mod = t.vle_stu[row], t.vle_day[row], t.vle_mod[row]
    owl = t.traits.night_owl[stu]
    u = hash_unit(stu, day, k, np.full(len(k), 1))
    sec = np.where(owl, 64800 + u * 21599, 28800 + u * 50400).astype(np.int64)
    cum = np.cumsum([e[-1] for e in LEARNING])
    kind = np.searchsorted(cum / cum[-1], hash_unit(stu, day, k, np.full(len(k), 2)), "right")
    return {"stu": stu, "day": day, "mod": mod, "k": k, "sec": sec, "kind": kind}


def _learning_rows(x: ExportContext, ev: dict[str, np.ndarray], keep: np.ndarray) -> pd.DataFrame:
    stu, day, m = ev["stu"][keep], ev["day"][keep], ev["mod"][keep]
    kind, k = ev["kind"][keep], ev["k"][keep]
    cat = pd.DataFrame(
        LEARNING,
        columns=["eventname", "component", "action", "target", "objecttable", "crud", "slot",
                 "event_label", "component_label", "w"],
    ).iloc[kind].reset_index(drop=True)  # fmt: skip
    slot = cat["slot"].to_numpy()
    uid = x.moodle_id[stu]
    cm = _cmid(m, np.maximum(slot, 0))
    serial = (hash_unit(stu, day, k, np.full(len(k), 3)) * 9e5).astype(np.int64) + 100_000
    objectid = np.where(
        slot < 0, -1, np.where(np.isin(slot, [0, 1, 2, 5]), 8000 + m * 10 + slot, serial)
    )
    forum = 8000 + m * 10 + 3
    name = cat["eventname"].to_numpy()
    other = np.full(len(k), "N;", dtype=object)
    is_d = name == LEARNING[4][0]
    other[is_d] = [f'a:1:{{s:7:"forumid";i:{f};}}' for f in forum[is_d]]
    is_p = name == LEARNING[5][0]
    disc = 20000 + m * 5 + k % 5
    other[is_p] = [
        f'a:3:{{s:12:"discussionid";i:{d};s:7:"forumid";i:{f};s:9:"forumtype";s:7:"general";}}'
        for d, f in zip(disc[is_p], forum[is_p], strict=True)
    ]
    is_q = name == LEARNING[6][0]
    other[is_q] = [
        f'a:2:{{s:11:"submitterid";i:{u};s:6:"quizid";i:{q};}}'
        for u, q in zip(uid[is_q], 8000 + m[is_q] * 10 + 4, strict=True)
    ]
    is_a = name == LEARNING[7][0]
    other[is_a] = [f'a:1:{{s:8:"assignid";i:{a};}}' for a in 8000 + m[is_a] * 10 + 5]
    context = np.where(
        slot < 0,
        np.char.add("Course: ", (x.codes[m].astype(object) + " " + x.module_names[m]).astype(str)),
        np.array(SLOT_CONTEXT)[np.maximum(slot, 0)],
    )
    desc = _descriptions(name, uid, m, cm, objectid, disc)
    out = cat.drop(columns=["slot", "w"]).assign(
        objectid=objectid,
        edulevel=2,
        contextid=np.where(slot < 0, 70000 + m, 80000 + m * 10 + slot),
        contextlevel=np.where(slot < 0, 50, 70),
        contextinstanceid=np.where(slot < 0, course_id(m), cm),
        userid=uid,
        courseid=course_id(m),
        relateduserid=-1,
        other=other,
        local=_local(x, day, ev["sec"][keep]),
        origin=np.where(hash_unit(stu, day, k, np.full(len(k), 4)) < 0.15, "ws", "web"),
        realuserid=-1,
        counted=True,
        in_course_log=True,
        context_text=context,
        description=desc,
        module=m,
        tiebreak=stu,
    )
    return out


def _descriptions(name, uid, m, cm, objectid, disc) -> list[str]:
    out = []
    for n, u, c, cmid, o, d in zip(name, uid, course_id(m), cm, objectid, disc, strict=True):
        if n.endswith("course_viewed"):
            out.append(f"The user with id '{u}' viewed the course with id '{c}'.")
        elif n.endswith("course_module_viewed"):
            kind = n.split("\\")[1][4:]
            out.append(
                f"The user with id '{u}' viewed the '{kind}' activity with course module id '{cmid}'."
            )
        elif n.endswith("discussion_viewed"):
            out.append(
                f"The user with id '{u}' has viewed the discussion with id '{o}' in the forum with course module id '{cmid}'."
            )
        elif n.endswith("post_created"):
            out.append(
                f"The user with id '{u}' has created the post with id '{o}' in the discussion with id '{d}' in the forum with course module id '{cmid}'."
            )
        elif n.endswith("attempt_submitted"):
            out.append(
                f"The user with id '{u}' has submitted the attempt with id '{o}' for the quiz with course module id '{cmid}'."
            )
        else:
            out.append(
                f"The user with id '{u}' has viewed the submission status page for the assignment with course module id '{cmid}'."
            )
    return out  # fmt: skip


def _local(x: ExportContext, day: np.ndarray, sec: np.ndarray) -> np.ndarray:
    return x.first + (np.asarray(day) * 86400 + np.asarray(sec)).astype("timedelta64[s]")


def noise_events(
    x: ExportContext, ev: dict[str, np.ndarray], start: int, modules: np.ndarray | None
) -> pd.DataFrame:
    """All log rows from day `start` to `until` of some modules (None: the whole site), by time."""
    keep = ev["day"] >= start
    if modules is not None:
        keep &= np.isin(ev["mod"], modules)
    parts = [_learning_rows(x, ev, keep)]
    rng = x.rng
    mods = np.arange(len(x.codes)) if modules is None else np.asarray(modules)
    days = np.arange(start, x.until_day + 1)
    outage = x.truth.planted.get("_vle_outage")
    if outage:
        days = days[(days < outage[0]) | (days >= outage[1])]
    weekday = (days + x.cal.first_day.weekday()) % 7
    busy = days[(weekday < 5) & (x.cal.day_kind[days] != VACATION)]
    leader = x.pop.modules["leader"].to_numpy()
    cohorts = _cohorts(x)
    staff_rows = []
    for m in mods.tolist():
        lead = x.staff_moodle_id[leader[m]]
        n_view = rng.poisson(1.2, len(busy))
        n_grade = rng.poisson(0.25, len(busy)) if len(cohorts[m]) else np.zeros(len(busy), int)
        for d, nv, ng in zip(busy.tolist(), n_view.tolist(), n_grade.tolist(), strict=True):
            for _ in range(nv):
                staff_rows.append((m, d, lead, -1, "view", -1))
            for _ in range(ng):
                s = int(cohorts[m][int(rng.integers(len(cohorts[m])))])
                staff_rows.append((m, d, lead, int(x.moodle_id[s]), "grade", s))
        if len(cohorts[m]) and len(busy):
            for _ in range(max(1, len(cohorts[m]) // 60)):
                s = int(cohorts[m][int(rng.integers(len(cohorts[m])))])
                d = int(busy[int(rng.integers(len(busy)))])
                staff_rows.append((m, d, 2, int(x.moodle_id[s]), "enrol", s))
    if staff_rows:
        parts.append(
            _staff_rows(x, rng, pd.DataFrame(staff_rows, columns=["m", "d", "u", "r", "what", "s"]))
        )
    if modules is None and keep.any():
        parts.append(_site_rows(x, rng, ev, keep))
    rows = pd.concat(parts, ignore_index=True)
    return rows.sort_values(["local", "tiebreak"], kind="stable").reset_index(drop=True)


def _cohorts(x: ExportContext) -> list[np.ndarray]:
    mods = x.pop.student_modules
    s_idx, j = np.nonzero(mods >= 0)
    m = mods[s_idx, j]
    return [s_idx[m == k] for k in range(len(x.codes))]


def _staff_rows(x: ExportContext, rng, f: pd.DataFrame) -> pd.DataFrame:
    n = len(f)
    m = f["m"].to_numpy()
    what = f["what"].to_numpy()
    view, grade = what == "view", what == "grade"
    u, r = f["u"].to_numpy(), f["r"].to_numpy()
    cm = _cmid(m, 5)
    name = np.where(
        view,
        LEARNING[0][0],
        np.where(
            grade, "\\mod_assign\\event\\submission_graded", "\\core\\event\\user_enrolment_created"
        ),
    )
    desc = np.where(
        view,
        [f"The user with id '{a}' viewed the course with id '{c}'." for a, c in zip(u, course_id(m), strict=True)],
        np.where(
            grade,
            [f"The user with id '{a}' has graded the submission '{9000 + b % 997}' for the user with id '{b}' for the assignment with course module id '{c}'." for a, b, c in zip(u, r, cm, strict=True)],
            [f"The user with id '{a}' enrolled the user with id '{b}' using the enrolment method 'manual' in the course with id '{c}'." for a, b, c in zip(u, r, course_id(m), strict=True)],
        ),
    )  # fmt: skip
    ctx = [f"Course: {x.codes[k]} {x.module_names[k]}" for k in m]
    return pd.DataFrame(
        {
            "eventname": name,
            "component": np.where(view, "core", np.where(grade, "mod_assign", "core")),
            "action": np.where(view, "viewed", np.where(grade, "graded", "created")),
            "target": np.where(view, "course", np.where(grade, "submission", "user_enrolment")),
            "objecttable": np.where(view, "NULL", np.where(grade, "assign_submission", "user_enrolments")),
            "crud": np.where(view, "r", np.where(grade, "u", "c")),
            "event_label": np.where(view, "Course viewed", np.where(grade, "Submission graded", "User enrolled in course")),
            "component_label": np.where(view, "System", np.where(grade, "Assignment", "Manual enrolments")),
            "objectid": np.where(view, -1, 9000 + np.maximum(r, 0) % 997),
            "edulevel": np.where(view, 2, np.where(grade, 1, 0)),
            "contextid": np.where(grade, 80000 + m * 10 + 5, 70000 + m),
            "contextlevel": np.where(grade, 70, 50),
            "contextinstanceid": np.where(grade, cm, course_id(m)),
            "userid": u,
            "courseid": course_id(m),
            "relateduserid": r,
            "other": np.where(view, "N;", np.where(grade, 'a:0:{}', 'a:1:{s:5:"enrol";s:6:"manual";}')),
            "local": _local(x, f["d"].to_numpy(), rng.integers(9 * 3600, 18 * 3600, n)),
            "origin": "web",
            "realuserid": -1,
            "counted": False,
            "in_course_log": True,
            "context_text": ctx,
            "description": desc,
            "module": m,
            "tiebreak": -1,
        }
    )  # fmt: skip


def _site_rows(x: ExportContext, rng, ev: dict[str, np.ndarray], keep: np.ndarray) -> pd.DataFrame:
    """Log-ins (one per active student-day, before the first event) and admin 'logged in as' views."""
    stu, day, sec = ev["stu"][keep], ev["day"][keep], ev["sec"][keep]
    key = stu.astype(np.int64) * 100_000 + day
    order = np.lexsort((sec, key))
    first = order[np.r_[True, key[order][1:] != key[order][:-1]]]
    pick = first[rng.random(len(first)) < 0.6]
    s, d = stu[pick], day[pick]
    n = len(pick)
    uid = x.moodle_id[s]
    login = pd.DataFrame(
        {
            "eventname": "\\core\\event\\user_loggedin", "component": "core", "action": "loggedin",
            "target": "user", "objecttable": "user", "crud": "r", "event_label": "User has logged in",
            "component_label": "System", "objectid": uid, "edulevel": 0, "contextid": 1,
            "contextlevel": 10, "contextinstanceid": 0, "userid": uid, "courseid": 0,
            "relateduserid": -1,
            "other": [f'a:1:{{s:8:"username";s:{len(x.email[i].split("@")[0])}:"{x.email[i].split("@")[0]}";}}' for i in s],
            "local": _local(x, d, sec[pick] - rng.integers(5, 120, n)),
            "origin": "web", "realuserid": -1, "counted": False, "in_course_log": False,
            "context_text": "System", "description": "", "module": -1, "tiebreak": s,
        }
    )  # fmt: skip
    k = min(2, len(pick))
    j = rng.choice(len(pick), k, replace=False) if k else np.zeros(0, int)
    m = ev["mod"][keep][pick][j]
    as_admin = pd.DataFrame(
        {
            "eventname": LEARNING[0][0], "component": "core", "action": "viewed", "target": "course",
            "objecttable": "NULL", "crud": "r", "event_label": "Course viewed",
            "component_label": "System", "objectid": -1, "edulevel": 2, "contextid": 70000 + m,
            "contextlevel": 50, "contextinstanceid": course_id(m), "userid": uid[j],
            "courseid": course_id(m), "relateduserid": -1, "other": "N;",
            "local": _local(x, d[j], np.full(k, 11 * 3600 + 17 * 60)), "origin": "web",
            "realuserid": 2, "counted": False, "in_course_log": False, "context_text": "",
            "description": "", "module": m, "tiebreak": s[j],
        }
    )  # fmt: skip
    return pd.concat([login, as_admin], ignore_index=True)


def render_logstore(x: ExportContext, rows: pd.DataFrame) -> str:
    """The rows as a logstore_standard_log CSV dump (NULL literals, Unix timecreated)."""
    null = lambda a: np.where(a < 0, "NULL", a.astype(str))  # noqa: E731
    ts = unix_time(rows["local"].to_numpy(), x.cal.first_day)
    frame = pd.DataFrame(
        {
            "id": 48_000_001 + np.arange(len(rows)),
            **{c: rows[c] for c in ["eventname", "component", "action", "target", "objecttable"]},
            "objectid": null(rows["objectid"].to_numpy()),
            "crud": rows["crud"],
            "edulevel": rows["edulevel"],
            "contextid": rows["contextid"],
            "contextlevel": rows["contextlevel"],
            "contextinstanceid": rows["contextinstanceid"],
            "userid": rows["userid"],
            "courseid": rows["courseid"],
            "relateduserid": null(rows["relateduserid"].to_numpy()),
            "anonymous": 0,
            "other": rows["other"],
            "timecreated": ts,
            "origin": rows["origin"],
            "ip": ip_addresses(rows["userid"].to_numpy().astype(np.int64)),
            "realuserid": null(rows["realuserid"].to_numpy()),
        }
    )
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()
