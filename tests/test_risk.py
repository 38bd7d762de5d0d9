"""The learned withdrawal-risk ranking: trained on earlier years' outcomes in the store, stored with
its window and held-out scores, used only when it beats the rule-based order."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import select

from bench.scenarios import generate, generate_years
from lib.risk import rank, show, train
from lib.store.db import init_db, session_scope
from lib.store.models import RiskModel, Student
from lib.usecases import load_sample_folder


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("risk")
    generate_years(folder / "data", students=120, seed=3)
    url = f"sqlite:///{folder / 'store.db'}"
    init_db(url)
    with session_scope(url) as session:
        load_sample_folder(session, folder / "data", force=True)
    return url


def test_status_date_is_loaded_from_the_students_file(store):
    with session_scope(store) as session:
        rows = session.execute(
            select(Student.status, Student.status_date).where(Student.status == "withdrawn")
        ).all()
    assert rows
    assert all(day is not None for _, day in rows)


def test_train_stores_the_model_with_its_window_and_both_orders_held_out_scores(store):
    with session_scope(store) as session:
        loaded = session.scalars(select(RiskModel)).all()  # the sample loader trained one
        result = train(session, trained_by="test")
        stored = session.scalars(select(RiskModel).order_by(RiskModel.version)).all()
    assert [m.trained_by for m in loaded] == ["sample-data"]
    assert [m.version for m in stored] == [1, 2] and result["version"] == 2
    assert result["train_years"] == "2023"
    assert result["test_year"] == 2024
    scores = result["scores"]
    for order in ("model", "rule_based"):
        assert 0.0 <= scores[order]["roc_auc"] <= 1.0
        assert 0.0 <= scores[order]["precision_top_10pct"] <= 1.0
    beats = (
        scores["model"]["roc_auc"] > scores["rule_based"]["roc_auc"]
        and scores["model_minus_rule_based"]["roc_auc"]["share_higher"] >= 0.95
        and scores["model"]["precision_top_10pct"] >= scores["rule_based"]["precision_top_10pct"]
    )
    assert result["in_use"] is beats
    assert stored[-1].in_use is beats
    assert scores["test_withdrawals"] > 0
    json.dumps(stored[-1].model)  # coefficients as plain JSON (no pickle)


def test_rank_gives_a_score_the_in_use_flag_and_reasons_for_current_students(store):
    with session_scope(store) as session:
        if show(session).get("version") is None:
            train(session, trained_by="test")
        ids = list(
            session.scalars(select(Student.student_id).where(Student.student_id.like("Y0%")))
        )
        ranked = rank(session, ids + ["NOBODY"])
        in_use = show(session)["in_use"]
    assert list(ranked["student_id"]) == ids + ["NOBODY"]
    known = ranked[ranked["student_id"] != "NOBODY"]
    assert known["score"].between(0, 1).all()
    assert np.isnan(ranked.loc[ranked["student_id"] == "NOBODY", "score"]).all()
    assert (ranked["in_use"] == in_use).all()
    top = known.sort_values("score", ascending=False).iloc[0]
    assert top["reasons"] and all(isinstance(r, str) and r for r in top["reasons"])


def test_training_refuses_a_store_without_two_complete_earlier_years(tmp_path):
    generate(tmp_path / "data", students=40, seed=2, kind="mixed", clean=True)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    init_db(url)
    with session_scope(url) as session:
        load_sample_folder(session, tmp_path / "data", force=True)
        with pytest.raises(ValueError, match="two complete earlier academic years"):
            train(session)
        assert show(session)["in_use"] is False


def test_order_by_risk_orders_by_score_only_when_the_model_is_in_use(store):
    import pandas as pd

    from lib.risk import order_by_risk

    with session_scope(store) as session:
        if show(session).get("version") is None:
            train(session, trained_by="test")
        ids = list(
            session.scalars(
                select(Student.student_id).where(Student.student_id.like("Y0%")).limit(30)
            )
        )
        flagged = pd.DataFrame({"student_id": ids, "rank": range(len(ids), 0, -1)})
        row = session.scalars(select(RiskModel).order_by(RiskModel.version.desc())).first()
        saved = row.in_use
        row.in_use = True
        session.flush()
        by_risk = order_by_risk(session, flagged, ["rank", "student_id"])
        scores = rank(session, ids).set_index("student_id")["score"]
        row.in_use = False
        session.flush()
        by_rule = order_by_risk(session, flagged, ["rank", "student_id"])
        row.in_use = saved
    assert list(by_rule["student_id"]) == ids[::-1]  # the rule order: rank ascending
    ordered = scores.loc[list(by_risk["student_id"])].fillna(-1).to_numpy()
    assert (ordered[:-1] >= ordered[1:]).all()
    assert sorted(by_risk["student_id"]) == sorted(ids)


def test_the_rule_score_is_the_home_worklists_order(store):
    """The bench compares the model with the order Home really uses: worst flag in force, then
    the lowest index against usual in the latest week (student id breaking ties)."""
    from lib.access import User
    from lib.risk.features import features, rule_score, teaching_weeks
    from lib.views.home import my_students

    with session_scope(store) as session:
        row = session.scalars(select(RiskModel).order_by(RiskModel.version.desc())).first()
        if row is not None:
            row.in_use = False  # Home in the rule order
            session.flush()
        shown, total = my_students(session, User("w", "wellbeing"), limit=1000)
        weeks = teaching_weeks(session)
        year = int(weeks["year"].max())
        cutoff = int(weeks.loc[weeks["year"] == year, "number"].max()) + 1
        frame = features(session, year, cutoff, list(shown["student_id"]), weeks=weeks)
        session.rollback()
    assert total == len(shown) > 50
    score = rule_score(frame)
    ids = frame.index.to_numpy().astype(str)
    ours = list(ids[np.lexsort((ids, -score))])
    home = [s for s in shown["student_id"] if s in set(ids)]
    assert int((frame["severity_now"] > 0).sum()) > 0
    assert ours == home


def test_held_out_scores_and_their_intervals():
    from sklearn.metrics import roc_auc_score

    from lib.risk.evaluate import auc, compare, precision_top

    rng = np.random.default_rng(0)
    labels = (rng.random(400) < 0.1).astype(int)
    good = labels + rng.normal(0, 0.8, 400)
    noise = rng.normal(0, 1, 400)
    weeks = np.repeat([4, 6, 8, 10], 100)
    students = np.tile(np.arange(100), 4)
    assert auc(good, labels) == pytest.approx(roc_auc_score(labels, good))
    assert auc(np.zeros(400), labels) == 0.5  # ties count a half
    # the top 10% of each week's list: 10 a week, pooled
    perfect = labels.astype(float)
    tops = [labels[weeks == w].sum() for w in (4, 6, 8, 10)]
    assert precision_top(perfect, labels, weeks) == pytest.approx(
        sum(min(t, 10) for t in tops) / 40
    )
    out = compare({"good": good, "noise": noise}, labels, weeks, students, resamples=200)
    for name in ("good", "noise"):
        low, high = out[name]["roc_auc_ci95"]
        assert low <= out[name]["roc_auc"] <= high
    assert out["good"]["roc_auc"] > 0.75 and out["noise"]["roc_auc"] < 0.65
    diff = out["good_minus_noise"]["roc_auc"]
    assert diff["ci95"][0] > 0 and diff["share_higher"] == 1.0
    assert out["students"] == 100 and out["samples"] == 400


def test_the_models_worklist_reorders_flagged_students_only():
    """Held out, the model's order is Home's when it is in use: flagged students by learned risk,
    above every unflagged one, and the unflagged in the rule order."""
    import pandas as pd

    from lib.risk.features import FEATURES, rule_score
    from lib.risk.model import worklist_scores

    names = [n for n in FEATURES if n != "severity_now"]
    frame = pd.DataFrame(0.0, index=range(6), columns=[*FEATURES, "ratio_now"])
    frame["severity_now"] = [0, 3, 0, 1, 0, 2]
    frame["ratio_now"] = [0.9, 1.0, 0.2, 0.1, np.nan, 0.5]
    frame["missed"] = [5, 0, 0, 2, 0, 1]
    model = {
        "features": ["missed", *names[:1]],
        "mean": [0.0, 0.0],
        "scale": [1.0, 1.0],
        "coef": [1.0, 0.0],
        "intercept": 0.0,
    }
    orders = worklist_scores(model, frame)
    by_model = list(np.argsort(-orders["model"], kind="stable"))
    by_rule = list(np.argsort(-orders["rule_based"], kind="stable"))
    assert by_rule == [
        1,
        5,
        3,
        2,
        0,
        4,
    ]  # high, medium, low; then the lowest ratio, unmeasured last
    assert by_model == [3, 5, 1, 2, 0, 4]  # flagged by missed submissions; the rest unchanged
    assert (orders["rule_based"] == rule_score(frame)).all()


def test_with_three_complete_years_it_must_also_win_on_the_pooled_earlier_years(tmp_path):
    from lib.risk.model import beats

    generate_years(tmp_path / "data", students=60, seed=4, past_years=3)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    init_db(url)
    with session_scope(url) as session:
        load_sample_folder(session, tmp_path / "data", force=True)
        result = train(session, trained_by="test")
    scores = result["scores"]
    assert result["train_years"] == "2022,2023" and result["test_year"] == 2024
    assert scores["rolling"]["test_years"] == [2023, 2024]
    assert scores["rolling"]["samples"] > scores["samples"]
    assert result["in_use"] is (beats(scores) and beats(scores["rolling"]))
