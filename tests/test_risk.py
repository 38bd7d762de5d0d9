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
