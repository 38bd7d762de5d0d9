"""Home worklist and the withdrawal-risk model (AppTest): the line says whether the model orders
flagged students; when it does, they come in its order with its top reasons in words."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from lib.access import WELFARE_COLUMNS
from lib.risk.features import FEATURES
from lib.risk.model import MODEL_VERSION
from lib.store.models import RiskModel, Submission
from tests import app_fixtures
from tests.app_fixtures import FIRST_WEEK, open_page
from tests.factories import load_row

seeded = app_fixtures.seeded
empty_store = app_fixtures.empty_store

SCORES = {
    "model": {"roc_auc": 0.81, "precision_top_10pct": 0.4},
    "rule_based": {"roc_auc": 0.7, "precision_top_10pct": 0.3},
}


def _model(session, *, in_use: bool) -> None:
    """A stored model that weighs missed submissions most, and S003 missing one (S001 and S003
    are otherwise alike: the rule order puts S001 first, the model S003)."""
    names = list(FEATURES)
    coef = [{"missed": 2.0, "flag_score": 0.5, "index_low_share": 1.0}.get(n, 0.0) for n in names]
    session.add(
        RiskModel(
            version=1,
            trained_at=datetime(2025, 9, 1),
            trained_by="test",
            train_years="2023,2024",
            test_year=2024,
            weeks=8,
            in_use=in_use,
            scores=SCORES,
            model={
                "version": MODEL_VERSION,
                "features": names,
                "mean": [0.0] * len(names),
                "scale": [1.0] * len(names),
                "coef": coef,
                "intercept": -3.0,
            },
        )
    )
    load = load_row(
        source="submissions",
        file_name="s.csv",
        content_hash="y" * 64,
        loaded_at=datetime(2025, 11, 1),
    )
    session.add(load)
    session.flush()
    session.add(
        Submission(
            student_id="S003",
            assignment_id="A1",
            module_code="SCI101",
            due_at=datetime.combine(FIRST_WEEK + timedelta(weeks=7, days=2), datetime.min.time()),
            submitted_at=None,
            status="missing",
            load_id=load.id,
        )
    )
    session.commit()


def _students(at):
    (frame,) = [d.value for d in at.dataframe if "trend" in d.value.columns]
    return frame


def _captions(at) -> str:
    """The captions' text with the Markdown escapes removed."""
    return "\n".join(str(c.value) for c in at.caption).replace("\\", "")


def test_the_model_in_use_orders_flagged_students_and_gives_its_reasons(seeded):
    _model(seeded, in_use=True)
    at = open_page("wellbeing", "home")
    assert not at.exception
    frame = _students(at)
    assert list(frame["student_id"][:2]) == ["S003", "S001"]
    assert "ordered by the withdrawal-risk model (version 1, trained on 2023, 2024; " in (
        _captions(at)
    )
    assert "held-out 2024: ROC AUC 0.81 vs rule 0.70" in _captions(at)
    reasons = frame.set_index("student_id")["risk_reasons"]
    assert "submissions missed in the last 8 teaching weeks: 1" in reasons["S003"]
    assert reasons["S001"] and not reasons["S002"]  # unflagged students: no model reasons


def test_a_model_that_did_not_beat_the_rule_order_leaves_it(seeded):
    _model(seeded, in_use=False)
    at = open_page("wellbeing", "home")
    frame = _students(at)
    assert list(frame["student_id"][:2]) == ["S001", "S003"]
    assert "ordered by the rule order" in _captions(at)
    assert "did not beat it (held-out 2024: ROC AUC 0.81 vs rule 0.70" in _captions(at)
    assert (frame["risk_reasons"] == "").all()


def test_without_a_model_the_line_says_none_is_trained(seeded):
    at = open_page("tutor", "home")
    assert list(_students(at)["student_id"]) == ["S001", "S002"]
    assert "rule order (severity, then the largest drop): no withdrawal-risk model trained" in (
        _captions(at)
    )


@pytest.mark.parametrize("role", ["visa", "tutor"])
def test_roles_see_only_their_students_and_no_welfare_columns(seeded, role):
    _model(seeded, in_use=True)
    at = open_page(role, "home")
    frame = _students(at)
    expected = {"visa": {"S002", "S004"}, "tutor": {"S001", "S002"}}[role]
    assert set(frame["student_id"]) == expected
    assert not set(frame.columns) & WELFARE_COLUMNS
    assert "ordered by the withdrawal-risk model" in _captions(at)
