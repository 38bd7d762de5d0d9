"""The Home page's read: the user's students, flagged and most changed first (flagged students by
learned withdrawal risk when that model is in use), with a sparkline each."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, aliased

from lib.access import User, student_filter
from lib.compute.flags import in_force
from lib.risk import order_note, rank
from lib.store.models import Flag, Student, WeeklyMeasure
from lib.store.results_version import measures_visible
from lib.views.common import default_weeks, relative_engagement
from lib.views.filters import (
    SEVERITY_ORDER,
    CohortFilters,
    not_left_before,
    student_clauses,
    worst_flags,
)


def risk_order(session: Session) -> dict:
    """Whether flagged students are ordered by the withdrawal-risk model, and the line saying so."""
    return order_note(session)


def _page(
    session: Session, query, worst, ranking: list, limit: int, offset: int
) -> tuple[list[str], dict[str, list[str]]]:
    """The page's student ids and, when the model orders them, each flagged student's top risk
    reasons. Flagged students come first: by learned risk (the rule order breaking ties) when the
    model beats the rule order on its held-out year, else in the rule order; then the others."""
    if not order_note(session)["in_use"]:
        return list(session.scalars(query.order_by(*ranking).limit(limit).offset(offset))), {}
    flagged = list(session.scalars(query.where(worst.is_not(None)).order_by(*ranking)))
    ranked = rank(session, flagged).assign(rule=range(len(flagged)))
    ranked["score"] = ranked["score"].fillna(-1.0)
    ranked = ranked.sort_values(["score", "rule"], ascending=[False, True], kind="stable")
    ids = list(ranked["student_id"])[offset : offset + limit]
    if len(ids) < limit:
        rest = query.where(worst.is_(None)).order_by(*ranking)
        skip = max(offset - len(flagged), 0)
        ids += list(session.scalars(rest.limit(limit - len(ids)).offset(skip)))
    reasons = {r.student_id: list(r.reasons) for r in ranked.itertuples() if r.student_id in ids}
    return ids, reasons


def my_students(
    session: Session, user: User, *, limit: int = 25, offset: int = 0, weeks: int = 10
) -> tuple[pd.DataFrame, int]:
    """The user's students, flagged (most severe) and most changed first, with a sparkline series.

    "Most changed" is the latest week's combined index relative to the student's own baseline
    (lowest first); students without a result that week come last."""
    _, last = default_weeks(session)  # "now": the latest teaching week with loaded activity
    clauses = student_clauses(user, CohortFilters())
    if last is not None:  # students who left before this academic year are nobody's worklist
        year_start = date(last.year - (last.month < 9), 9, 1)
        clauses.append(not_left_before(year_start))
    total = session.scalar(select(func.count()).select_from(Student).where(*clauses)) or 0
    worst = worst_flags(last)
    latest = aliased(WeeklyMeasure)
    ratio = case(
        (latest.index_baseline > 0, latest.index_value / latest.index_baseline),
        else_=None,
    )
    query = (
        select(Student.student_id)
        .where(*clauses)
        .outerjoin(worst, worst.c.student_id == Student.student_id)
    )
    if last is not None:
        query = query.outerjoin(
            latest,
            and_(
                latest.student_id == Student.student_id,
                latest.week_start == last,
                measures_visible(latest),
            ),
        )
        ranking = [func.coalesce(worst.c.worst, 9), func.coalesce(ratio, 99.0), Student.student_id]
    else:
        ranking = [func.coalesce(worst.c.worst, 9), Student.student_id]
    ids, reasons = _page(session, query, worst.c.worst, ranking, limit, offset)
    if not ids:
        return pd.DataFrame(), total
    profile = pd.DataFrame(
        session.execute(
            select(
                Student.student_id,
                Student.given_name,
                Student.family_name,
                Student.course_code,
                Student.year_of_study,
            ).where(Student.student_id.in_(ids), student_filter(user))
        ).all(),
        columns=["student_id", "given_name", "family_name", "course", "year"],
    )
    name = profile.pop("given_name") + " " + profile.pop("family_name")
    profile.insert(1, "name", name.str.strip())  # a single-name student: the given name alone
    flags = session.execute(
        select(Flag.student_id, Flag.kind, Flag.severity, Flag.explanation)
        .where(Flag.student_id.in_(ids), in_force(last))
        .order_by(SEVERITY_ORDER)
    ).all()
    by_student: dict[str, list] = {}
    for sid, kind, severity, explanation in flags:
        by_student.setdefault(sid, []).append((kind, severity, explanation))
    profile["flag"] = profile["student_id"].map(
        lambda s: ", ".join(f"{k} ({sev})" for k, sev, _ in by_student.get(s, []))
    )
    profile["explanation"] = profile["student_id"].map(
        lambda s: " ".join(e for _, _, e in by_student.get(s, []))
    )
    spark: dict[str, list[float]] = {s: [] for s in ids}
    if last is not None:
        rel = relative_engagement(session, ids, last - timedelta(weeks=weeks - 1), last)
        for sid, group in rel.sort_values("week_start").groupby("student_id"):
            # non-teaching weeks (no ratio) are left out rather than drawn as a drop to zero
            spark[sid] = [round(float(v), 2) for v in group["ratio"] if pd.notna(v)]
    profile["trend"] = profile["student_id"].map(lambda s: spark.get(s, []))
    profile["latest"] = profile["trend"].map(lambda t: t[-1] if t else None)
    # the model's reasons name engagement measures, flags and submissions only (no welfare
    # information, SPEC §2): every role that sees the student may read them
    profile["risk_reasons"] = profile["student_id"].map(lambda s: "; ".join(reasons.get(s, [])))
    order = {sid: i for i, sid in enumerate(ids)}
    profile = profile.sort_values("student_id", key=lambda c: c.map(order)).reset_index(drop=True)
    return profile, total
