"""Uploaded files on their way to the pipeline: saved to a private temporary folder, deleted after
the load, and swept when a preview was abandoned."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

PREFIX = "dashboard_upload_"
MAX_AGE_SECONDS = 6 * 3600  # a preview left this long without a load is swept away
MAX_NAME = 200


def save_upload(name: str, data: bytes) -> Path:
    """Write an upload to a new private folder (mode 0700) under its own base name."""
    sweep_uploads()
    folder = Path(tempfile.mkdtemp(prefix=PREFIX))
    safe = Path(name).name.replace("\x00", "")[-MAX_NAME:] or "upload.csv"
    path = folder / safe
    path.write_bytes(data)
    return path


def discard_upload(path: str | Path | None) -> None:
    """Delete an upload's folder (only folders this module made)."""
    if not path:
        return
    folder = Path(path).parent
    if folder.name.startswith(PREFIX) and folder.parent == Path(tempfile.gettempdir()):
        shutil.rmtree(folder, ignore_errors=True)


def sweep_uploads(older_than: float | None = None) -> int:
    """Delete upload folders last changed before `older_than` (epoch seconds; default: now minus
    MAX_AGE_SECONDS). Returns how many were deleted."""
    cutoff = time.time() - MAX_AGE_SECONDS if older_than is None else older_than
    swept = 0
    for folder in Path(tempfile.gettempdir()).glob(PREFIX + "*"):
        try:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                swept += 1
        except FileNotFoundError:  # another session swept it first
            continue
    return swept
