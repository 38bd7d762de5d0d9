"""Uploaded files are deleted after their load, and abandoned previews are swept (issue #13)."""

from __future__ import annotations

import os

from lib.ingest.uploads import discard_upload, save_upload, sweep_uploads


def test_an_upload_is_saved_privately_and_deleted_after_use():
    path = save_upload("../../etc/evil name.csv", b"a,b\n1,2\n")
    try:
        assert path.name == "evil name.csv" and path.read_bytes() == b"a,b\n1,2\n"
        assert path.parent.name.startswith("dashboard_upload_")
        assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    finally:
        discard_upload(path)
    assert not path.exists() and not path.parent.exists()


def test_abandoned_uploads_are_swept_and_fresh_ones_kept():
    old = save_upload("old.csv", b"x")
    fresh = save_upload("fresh.csv", b"y")
    os.utime(old.parent, (1_000_000_000, 1_000_000_000))  # 2001: long abandoned
    try:
        assert sweep_uploads(older_than=1_500_000_000) >= 1
        assert not old.parent.exists() and fresh.exists()
    finally:
        discard_upload(fresh)
        discard_upload(old)


def test_discard_leaves_other_folders_alone(tmp_path):
    other = tmp_path / "keep.csv"
    other.write_text("x")
    discard_upload(other)
    assert other.exists()
