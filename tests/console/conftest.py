"""Fixtures of the console's browser tests: a replay of replay_data/small with
re-routes proposed (so the approvals queue has work), the console on a copy of
its outputs in a subprocess, and a headless Chromium (selenium).  Without
chromium and chromium-driver the browser tests are skipped on a developer
machine and fail in CI (CI=true)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from fleetstream.console.headless import CHROMEDRIVER, CHROMIUM, ConsoleProcess, browser, severe

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMALL = os.path.join(ROOT, "replay_data", "small")


def artifacts_dir() -> str:
    d = os.environ.get("FLEETSTREAM_ARTIFACTS") or os.path.join(ROOT, "tests", "artifacts")
    os.makedirs(d, exist_ok=True)
    return d


@pytest.fixture(scope="session")
def small_out(tmp_path_factory) -> str:
    """``fleetstream replay replay_data/small`` with engine.autonomy_reroute=propose."""
    out = str(tmp_path_factory.mktemp("console-small") / "out")
    r = subprocess.run([sys.executable, "-m", "fleetstream.cli", "replay", SMALL, "--out", out,
                        "-q", "--set", "engine.autonomy_reroute=propose"],
                       check=False, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def console_dir(small_out, tmp_path_factory) -> str:
    """A copy of the replay outputs the tests may append to (the input is named by
    the copied .fleetstream-run.json)."""
    d = str(tmp_path_factory.mktemp("console-copy") / "out")
    shutil.copytree(small_out, d)
    return d


@pytest.fixture(scope="module")
def console(console_dir, tmp_path_factory):
    log = str(tmp_path_factory.mktemp("console-log") / "console.log")
    c = ConsoleProcess("--replay", console_dir, "--user", "tester", log_path=log)
    yield c
    c.stop()


@pytest.fixture(scope="module")
def driver():
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        msg = (f"{CHROMIUM} or {CHROMEDRIVER} missing: scripts/services.sh start installs "
               "chromium and chromium-driver")
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    d = browser()
    yield d
    d.quit()


@pytest.fixture
def page(driver):
    """The driver; after the test, no SEVERE entry may be in the browser log."""
    severe(driver)  # drop what earlier tests left
    yield driver
    errors = severe(driver)
    assert not errors, f"browser console errors: {errors}"


def shot(driver, name: str) -> str:
    path = os.path.join(artifacts_dir(), name)
    driver.save_screenshot(path)
    return path


def _need(var: str) -> str:
    """Like tests/integration: skipped on a developer machine without the services,
    a failure in CI (CI=true)."""
    v = os.environ.get(var)
    if not v:
        msg = f"{var} is not set: start the services with scripts/services.sh start"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return v


@pytest.fixture
def services():
    return _need("FLEETSTREAM_KAFKA__BOOTSTRAP"), _need("FLEETSTREAM_REDIS__URL")
