"""Train, store and apply the withdrawal-risk model: a time split (earlier years train, the latest
complete year tests), compared with the rule-based order, used only when it beats that order."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lib.risk.evaluate import RESAMPLES, compare
from lib.risk.features import (
    FEATURES,
    FIRST_WEEKS,
    RECENT_WEEKS,
    SLOPE_WEEKS,
    WINDOW_WEEKS,
    cutoff_date,
    features,
    outcomes,
    rule_score,
    teaching_weeks,
)
from lib.store.models import RiskModel

MODEL_VERSION = 3  # the feature set and model form (a stored model of another form is not used)
# The features the model learns from: each relative to the student's own usual level, counts, or
# the trajectory. The absolute cohort-scaled source levels and the window's mean index are left
# out: they differ between cohorts and years more than between leavers and stayers (version 1).
MODEL_FEATURES = [
    "severity_now",
    "flag_score",
    "missed",
    "late",
    "index_recent",
    "index_trend",
    "index_low_share",
    "index_slope",
    "weeks_since_active",
    "silent_share",
    "first_weeks",
    "attendance_recent",
    "vle_recent",
]
CUTOFFS = range(4, 25, 2)  # teaching weeks into a year at which past years are sampled
LABEL_WEEKS = 8  # the risk: withdrawing within this many calendar weeks of the cut-off
SURE = 0.95  # share of bootstrap resamples in which the model's AUC must be the higher
C = 1.0  # the logistic regression's inverse regularisation: fixed, never chosen on a test year


def year_samples(
    session: Session, year: int, out: pd.DataFrame, weeks: pd.DataFrame
) -> pd.DataFrame:
    """Features at each cut-off of one complete year (student_id a column), labelled 1 when the
    student withdrew within LABEL_WEEKS after it (students who had left before the cut-off are
    left out). `weeks`: teaching_weeks(session)."""
    n_weeks = int((weeks["year"] == year).sum())
    year_end = pd.Timestamp(date(year + 1, 9, 1))
    left_on = out.set_index("student_id")["withdrawn_on"]
    parts = []
    for cutoff in CUTOFFS:
        if cutoff >= n_weeks:
            break
        day = cutoff_date(weeks, year, cutoff)
        frame = features(session, year, cutoff, weeks=weeks)
        if day is None or frame.empty:
            continue
        left = left_on.reindex(frame.index)
        gone = (left < pd.Timestamp(day)).to_numpy()
        frame, left = frame[~gone], left[~gone]
        end = min(pd.Timestamp(day) + pd.Timedelta(weeks=LABEL_WEEKS), year_end)
        frame = frame.assign(label=((left >= pd.Timestamp(day)) & (left < end)).astype(int))
        parts.append(frame.assign(year=year, cutoff=cutoff).reset_index())
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def samples_by_year(session: Session) -> tuple[dict[int, pd.DataFrame], list[int]]:
    """Every complete year's samples (the latest year with teaching weeks is still going on and
    left out), and all the years with teaching weeks."""
    weeks = teaching_weeks(session)
    years = [int(y) for y in sorted(weeks["year"].unique())]
    out = outcomes(session)
    return {y: year_samples(session, y, out, weeks) for y in years[:-1]}, years


def fit(train: pd.DataFrame, names: list[str] | None = None) -> dict:
    """A logistic regression on standardised features (unweighted, so its scores are probabilities
    on the training years' scale; only their order is used), as plain JSON."""
    names = list(names or MODEL_FEATURES)
    x = train[names].to_numpy(float)
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=C, max_iter=2000)
    model.fit(scaler.transform(x), train["label"].to_numpy())
    return {
        "version": MODEL_VERSION,
        "features": names,
        "mean": scaler.mean_.tolist(),
        "scale": np.where(scaler.scale_ > 0, scaler.scale_, 1.0).tolist(),
        "coef": model.coef_[0].tolist(),
        "intercept": float(model.intercept_[0]),
    }


def worklist_scores(model: dict, test: pd.DataFrame) -> dict[str, np.ndarray]:
    """The two orders of each cut-off's worklist: `model` (flagged students by learned risk, then
    the others in the rule order, as Home shows it when the model is in use) and `rule_based`."""
    rule = rule_score(test)
    flagged = test["severity_now"].to_numpy(float) > 0
    learned = np.where(flagged, 10_000.0 + _apply(model, test), rule)
    return {"model": learned, "rule_based": rule}


def held_out(model: dict, test: pd.DataFrame, resamples: int = RESAMPLES) -> dict:
    """Both orders' scores on a held-out year: on the whole worklist (what decides), among the
    flagged students only (where the model acts) and with the model ranking every student."""
    labels = test["label"].to_numpy()
    weeks = test["cutoff"].to_numpy()
    ids = test["student_id"].astype(str).to_numpy()
    orders = worklist_scores(model, test)
    flagged = test["severity_now"].to_numpy(float) > 0
    everyone = {"model": _apply(model, test), "rule_based": orders["rule_based"]}
    out = compare(orders, labels, weeks, ids, resamples=resamples)
    out["flagged_only"] = compare(
        {k: v[flagged] for k, v in orders.items()},
        labels[flagged],
        weeks[flagged],
        ids[flagged],
        resamples=resamples,
    )
    out["model_for_everyone"] = compare(everyone, labels, weeks, ids, resamples=resamples)
    out["brier"] = round(float(np.mean((everyone["model"] - labels) ** 2)), 4)
    return out


def rolling(by_year: dict[int, pd.DataFrame], extra: dict | None = None) -> pd.DataFrame:
    """Each complete year from the second on, scored by a model fitted on the earlier years only,
    the held-out years pooled: student_id, year, week (year and cut-off), label, severity_now and
    each order's score (`model`, `rule_based`, and one per `extra` name: a function of the
    training and test samples and the rule order giving another order's scores)."""
    years = sorted(y for y, f in by_year.items() if not f.empty)
    parts = []
    for k, year in enumerate(years[1:], start=1):
        train = pd.concat([by_year[y] for y in years[:k]])
        if train["label"].nunique() < 2:
            continue
        test = by_year[year]
        orders = worklist_scores(fit(train), test)
        for name, score in (extra or {}).items():
            orders[name] = score(train, test, orders["rule_based"])
        parts.append(
            test[["student_id", "cutoff", "label", "severity_now"]].assign(
                year=year, week=year * 100 + test["cutoff"], **orders
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def pooled_scores(pooled: pd.DataFrame, names: list[str], resamples: int = RESAMPLES) -> dict:
    """compare() of these orders on rolling()'s pooled held-out years."""
    return compare(
        {n: pooled[n].to_numpy() for n in names},
        pooled["label"].to_numpy(),
        pooled["week"].to_numpy(),
        pooled["student_id"].astype(str).to_numpy(),
        resamples=resamples,
    )


def beats(scores: dict) -> bool:
    """The model's worklist order beats the rule order on held-out data: a higher ROC AUC, in at
    least SURE of the student resamples (a difference within the noise of a few dozen withdrawers
    is not a win), and at least the same precision in the top 10% of each week's list."""
    model, rules = scores["model"], scores["rule_based"]
    higher = scores.get("model_minus_rule_based", {}).get("roc_auc", {}).get("share_higher")
    return bool(
        model["roc_auc"] > rules["roc_auc"]
        and higher is not None
        and higher >= SURE
        and model["precision_top_10pct"] >= rules["precision_top_10pct"]
    )


def train(session: Session, trained_by: str = "cli", resamples: int = RESAMPLES) -> dict:
    """Fit on every complete year but the latest, test on the latest complete year, compare with
    the rule-based order and store the model (in use only when it beats that order there and,
    with three or more complete years, also on every year from the second on predicted by a model
    fitted on the years before it, pooled)."""
    by_year, years = samples_by_year(session)
    complete = sorted(by_year)
    if len(complete) < 2:
        raise ValueError(
            "training needs at least two complete earlier academic years with outcomes "
            f"(years with teaching weeks: {', '.join(map(str, years)) or 'none'})"
        )
    test_year, train_years = complete[-1], complete[:-1]
    train = pd.concat([by_year[y] for y in train_years])
    test = by_year[test_year]
    if train.empty or test.empty or train["label"].nunique() < 2:
        raise ValueError(
            "training needs withdrawals (status withdrawn with a status_date) in the earlier years"
        )
    model = fit(train)
    scores = held_out(model, test, resamples=resamples)
    in_use = beats(scores)
    if len(complete) >= 3:  # more held-out years: it must also win on them, pooled
        pooled = rolling(by_year)
        scores["rolling"] = pooled_scores(pooled, ["model", "rule_based"], resamples)
        scores["rolling"]["test_years"] = [int(y) for y in sorted(pooled["year"].unique())]
        in_use = in_use and beats(scores["rolling"])
    scores.update(
        {
            "test_samples": int(len(test)),
            "test_withdrawals": int(test["label"].sum()),
            "train_samples": int(len(train)),
            "train_withdrawals": int(train["label"].sum()),
            "cutoffs": [int(c) for c in sorted(test["cutoff"].unique())],
        }
    )
    version = (session.scalar(select(func.max(RiskModel.version))) or 0) + 1
    row = RiskModel(
        version=version,
        trained_at=datetime.now().replace(microsecond=0),
        trained_by=trained_by,
        train_years=",".join(str(y) for y in train_years),
        test_year=int(test_year),
        weeks=WINDOW_WEEKS,
        in_use=in_use,
        scores=scores,
        model=model,
    )
    session.add(row)
    session.flush()
    return show(session)


def _apply(model: dict, frame: pd.DataFrame) -> np.ndarray:
    z = (frame[model["features"]].to_numpy(float) - np.array(model["mean"])) / np.array(
        model["scale"]
    )
    return 1 / (1 + np.exp(-(z @ np.array(model["coef"]) + model["intercept"])))


def latest(session: Session) -> RiskModel | None:
    """The newest stored model of this form."""
    row = session.scalars(select(RiskModel).order_by(RiskModel.version.desc()).limit(1)).first()
    return row if row is not None and row.model.get("version") == MODEL_VERSION else None


def show(session: Session) -> dict:
    """The newest model: version, training window, held-out scores of it and the rule-based order,
    and whether it is in use."""
    row = latest(session)
    if row is None:
        return {
            "model": None,
            "in_use": False,
            "note": "no model trained: python -m lib model train",
        }
    return {
        "version": row.version,
        "trained_at": row.trained_at.isoformat(),
        "trained_by": row.trained_by,
        "train_years": row.train_years,
        "test_year": row.test_year,
        "window_teaching_weeks": row.weeks,
        "in_use": row.in_use,
        "scores": row.scores,
        "why": "beats the rule-based order on the held-out year (a higher ROC AUC in at least "
        f"{SURE:.0%} of student resamples, the same or better precision in the top 10%)"
        if row.in_use
        else "does not beat the rule-based order on the held-out year (a higher ROC AUC in at "
        f"least {SURE:.0%} of student resamples, the same or better precision in the top 10%): "
        "the worklist keeps the rule order",
    }


def order_note(session: Session) -> dict:
    """How the worklist orders flagged students, in words: `in_use` and `text` (one line)."""
    row = latest(session)
    if row is None:
        return {
            "in_use": False,
            "text": "Flagged students are ordered by the rule order (severity, then the largest "
            "drop): no withdrawal-risk model trained.",
        }
    scores = row.scores
    years = row.train_years.replace(",", ", ")
    figures = (
        f"held-out {row.test_year}: ROC AUC {scores['model']['roc_auc']:.2f} vs rule "
        f"{scores['rule_based']['roc_auc']:.2f}, precision in the top 10% "
        f"{scores['model']['precision_top_10pct']:.0%} vs {scores['rule_based']['precision_top_10pct']:.0%}"
    )
    diff = scores.get("model_minus_rule_based", {}).get("roc_auc", {}).get("ci95")
    if diff and all(np.isfinite(diff)):
        figures += f"; 95% interval of the AUC difference {diff[0]:+.2f} to {diff[1]:+.2f}"
    if row.in_use:
        text = (
            f"Flagged students are ordered by the withdrawal-risk model (version {row.version}, "
            f"trained on {years}; {figures})."
        )
    else:
        text = (
            "Flagged students are ordered by the rule order (severity, then the largest drop): "
            f"the withdrawal-risk model (version {row.version}, trained on {years}) did not beat "
            f"it ({figures})."
        )
    return {"in_use": bool(row.in_use), "text": text}


def _reasons(model: dict, values: pd.Series, z: np.ndarray, n: int = 3) -> list[str]:
    parts = np.array(model["coef"]) * z
    out = []
    for j in np.argsort(-parts)[:n]:
        if parts[j] <= 0:
            break
        name = model["features"][j]
        v = float(values[name])
        if name in ("index_trend", "index_slope"):
            v = max(v, 0.0)
        out.append(
            FEATURES[name].format(v=v, w=WINDOW_WEEKS, r=RECENT_WEEKS, s=SLOPE_WEEKS, f=FIRST_WEEKS)
        )
    return out


def rank(session: Session, student_ids: list[str], as_of: date | None = None) -> pd.DataFrame:
    """student_id, score (withdrawal risk 0-1, NaN when not measured), in_use (the model beats
    the rule-based order, so the worklist may order by score), reasons (top reasons in words)
    for these students, from the current year's teaching weeks up to `as_of`."""
    columns = ["student_id", "score", "in_use", "reasons"]
    row = latest(session)
    blank = pd.DataFrame(
        {
            "student_id": student_ids,
            "score": np.nan,
            "in_use": False,
            "reasons": [[] for _ in student_ids],
        }
    )
    if row is None or not student_ids:
        return blank[columns]
    weeks = teaching_weeks(session)
    if as_of is not None:
        weeks = weeks[weeks["week_start"] <= pd.Timestamp(as_of)]
    if weeks.empty:
        return blank[columns]
    year = int(weeks["year"].max())
    cutoff = int(weeks.loc[weeks["year"] == year, "number"].max()) + 1
    frame = features(session, year, cutoff, list(student_ids), weeks=weeks)
    model = row.model
    scores = _apply(model, frame) if len(frame) else np.array([])
    z = (frame[model["features"]].to_numpy(float) - np.array(model["mean"])) / np.array(
        model["scale"]
    )
    by_id = {
        sid: (float(scores[i]), _reasons(model, frame.iloc[i], z[i]))
        for i, sid in enumerate(frame.index)
    }
    return pd.DataFrame(
        {
            "student_id": student_ids,
            "score": [by_id.get(s, (np.nan, []))[0] for s in student_ids],
            "in_use": row.in_use,
            "reasons": [by_id.get(s, (np.nan, []))[1] for s in student_ids],
        }
    )[columns]


def order_by_risk(session: Session, flagged: pd.DataFrame, rule_order: list[str]) -> pd.DataFrame:
    """Flagged students' rows in the rule order, or, when the stored model beats the rule order on
    its held-out year, by learned risk (highest first; the rule order breaks ties)."""
    ordered = flagged.sort_values(rule_order, kind="stable")
    if ordered.empty or latest(session) is None:
        return ordered
    ids = list(ordered["student_id"].astype(str).unique())
    ranked = rank(session, ids)
    if not ranked["in_use"].any():
        return ordered
    score = ordered["student_id"].astype(str).map(ranked.set_index("student_id")["score"])
    ordered = ordered.assign(_risk=score.fillna(-1.0).to_numpy())
    return ordered.sort_values("_risk", ascending=False, kind="stable").drop(columns="_risk")
