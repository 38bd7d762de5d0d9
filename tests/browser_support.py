"""Helpers for the real-browser tests: serve the app (lib.ops.replicas starts it), drive Debian's
chromium, npm tools."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lib.auth import COOKIE_NAME
from lib.ops.replicas import free_port, streamlit_app
from lib.ops.replicas import wait_for_http as http_ok

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
ARTIFACTS = ROOT / "var" / "artifacts"

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="browser tests need Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)",
)


def wait_for_http(url: str, what: str, log: Path | None = None, seconds: float = 120) -> None:
    """Wait until `url` answers 200 (or fail the test with the server's log)."""
    if http_ok(url, seconds):
        return
    detail = log.read_text() if log and log.exists() else ""
    pytest.fail(f"{what} did not start: {detail[-3000:]}")


@contextmanager
def streamlit_server(
    env: dict[str, str], folder: Path, *, port: int | None = None, extra: tuple[str, ...] = ()
) -> Iterator[str]:
    """`streamlit run Home.py` on loopback with the given environment; yields the base URL."""
    port = port or free_port()
    log_path = folder / f"streamlit_{port}.log"
    with streamlit_app(env, port, log_path, extra):
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/_stcore/health", "streamlit", log_path)
        yield base


@contextmanager
def chromium_page(viewport=(1400, 1000)) -> Iterator[object]:
    """A Playwright page in Debian's chromium, with console errors collected in page.console_errors."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]}, accept_downloads=True
        )
        page = context.new_page()
        # a page waits for the app under the whole suite (3 workers on 2 cores): generous, not a speed test
        page.set_default_timeout(120_000)
        errors: list[str] = []
        page.on(
            "console",
            lambda m: (
                errors.append(f"{m.text} ({m.location.get('url', '')})")
                if m.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "requestfailed",  # ERR_ABORTED: a load cut short by the test's next navigation
            lambda r: (
                None
                if "ERR_ABORTED" in (r.failure or "")
                else errors.append(f"request failed ({r.failure}): {r.url}")
            ),
        )
        page.on(
            "response",
            lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
        )
        page.console_errors = errors
        try:
            yield page
        except BaseException:
            _keep_failure_screenshot(page)
            raise
        finally:
            context.close()
            browser.close()


def _keep_failure_screenshot(page) -> None:
    """The page as it was when a test failed, under var/artifacts/failures/ (what was on screen?)."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "unknown").split(" ")[0]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", test)[-120:]
    try:
        page.screenshot(
            path=str(artifact_dir("failures") / f"{name}_{uuid.uuid4().hex[:8]}.png"),
            full_page=True,
        )
    except Exception:  # the browser itself may be what failed: the test's own error matters more
        pass


def wait_for_login_cookie(page) -> None:
    """Wait until the cookie component has set the login cookie in the browser.

    It is set from JavaScript after the login run reaches the browser; a page load before that
    (a user pressing reload at once, a test going straight on) signs in again from the form."""
    for _ in range(600):
        if any(c["name"] == COOKIE_NAME for c in page.context.cookies()):
            return
        page.wait_for_timeout(200)
    pytest.fail("the login cookie was never set")


_PROBE = re.compile(r"https?://[^/]+/[a-z0-9-]+/_stcore/(host-config|health)\b")


def _streamlit_base_path_probe(message: str) -> bool:
    """Streamlit's frontend, opened on a deep link such as /cohort, first asks /cohort/_stcore/...
    in case the app is served under that base path, then the root: the 404 is expected, no fault."""
    return "404" in message and bool(_PROBE.search(message))


def console_errors(page) -> list[str]:
    """The console errors and failed requests of the page, less Streamlit's base-path probe."""
    return [e for e in page.console_errors if not _streamlit_base_path_probe(e)]


def wait_until_idle(page, rounds: int = 5) -> None:
    """Wait until no script run is in progress (a click during a rerun can be dropped)."""
    status = page.locator('[data-testid="stStatusWidget"]')
    quiet = 0
    for _ in range(400):
        quiet = 0 if status.count() and status.first.is_visible() else quiet + 1
        if quiet >= rounds:
            return
        page.wait_for_timeout(200)
    pytest.fail("the app never finished running")


def choose_option(page, label: str, option: str) -> None:
    """Pick an option of a selectbox, opening the list again when a rerun closed it first."""
    choice = page.get_by_role("option", name=option)
    for _ in range(5):
        wait_until_idle(page)
        page.get_by_role("combobox", name=label, exact=True).click()
        try:
            choice.click(timeout=5_000)
        except Exception:  # noqa: BLE001 (the list closed before the click: open it again)
            continue
        return
    pytest.fail(f"option {option!r} of {label!r} never showed")


def npm_folder(name: str) -> Path:
    """tests/<name>/ with its node_modules installed from the committed lock file (npm ci)."""
    folder = ROOT / "tests" / name
    if not (folder / "node_modules").exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is needed for this browser test (apt-get install -y npm)")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=folder, check=True, timeout=300
        )
    return folder


def artifact_dir(name: str) -> Path:
    """var/artifacts/<name>/ (git-ignored): screenshots and reports kept after the test."""
    path = ARTIFACTS / name
    path.mkdir(parents=True, exist_ok=True)
    return path
