"""Pages stay thin: no page opens a transaction or talks to SQLAlchemy (lib/ui/*actions does)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "Home.py", *(ROOT / "app_pages").glob("*.py")])


def _store_uses(path: Path) -> list[str]:
    """The imports of SQLAlchemy or the store's sessions, and the names session_scope, in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "sqlalchemy"]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module.split(".")[0] == "sqlalchemy" or module == "lib.store.db":
                found.append(module)
        elif isinstance(node, ast.Name | ast.Attribute):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name in ("session_scope", "Session", "sessionmaker"):
                found.append(name)
    return found


def test_the_check_sees_a_page_that_opens_a_transaction(tmp_path):
    page = tmp_path / "page.py"
    page.write_text(
        "from lib.store import db\nwith db.session_scope() as s:\n    pass\nimport sqlalchemy.orm\n"
    )
    assert _store_uses(page) == ["sqlalchemy.orm", "session_scope"]


def test_every_page_is_checked():
    names = {p.name for p in PAGES}
    assert {"Home.py", "compliance_page.py", "subject_access_page.py"} <= names
    assert "withdrawal_review_page.py" in names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_page_opens_a_transaction_or_imports_sqlalchemy(page):
    assert _store_uses(page) == []
