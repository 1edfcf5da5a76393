"""Fixtures of the report tests: one evaluation of replay_data/small (it has truth/),
a headless Chromium, and the artifacts folder (env FLEETSTREAM_ARTIFACTS or
tests/artifacts/) where screenshots are kept."""

from __future__ import annotations

import os
import shutil

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="session")
def artifacts() -> str:
    d = os.environ.get("FLEETSTREAM_ARTIFACTS") or os.path.join(ROOT, "tests", "artifacts")
    os.makedirs(d, exist_ok=True)
    return d


@pytest.fixture(scope="session")
def small_eval(tmp_path_factory) -> dict:
    """``fleetstream evaluate replay_data/small`` in process: the result of
    ``evaluate_models`` plus the output folder."""
    from fleetstream.contract.settings import Settings
    from fleetstream.evaluate import evaluate_models

    out = str(tmp_path_factory.mktemp("small-eval"))
    res = evaluate_models(
        [os.path.join(ROOT, "replay_data", "small")], out, Settings(), progress=False
    )
    res["out"] = out
    return res


class Browser:
    """Headless Chromium through chromedriver; ``load`` returns the SEVERE console entries."""

    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        for exe in (CHROMIUM, CHROMEDRIVER):
            if not shutil.which(exe):
                raise RuntimeError(
                    f"{exe} is missing: install the Debian packages chromium and "
                    "chromium-driver (scripts/services.sh start does)"
                )
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--window-size=1280,900",
        ):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))

    def load(self, path: str) -> list[dict]:
        self.driver.get("file://" + os.path.abspath(path))
        self.driver.execute_script("return document.readyState")
        return [x for x in self.driver.get_log("browser") if x.get("level") == "SEVERE"]

    def screenshot(self, path: str, width: int = 1280, max_height: int = 20000) -> None:
        h = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(width, min(int(h) + 40, max_height))
        self.driver.save_screenshot(path)
        self.driver.set_window_size(width, 900)

    def quit(self) -> None:
        self.driver.quit()


@pytest.fixture(scope="session")
def browser():
    b = Browser()
    yield b
    b.quit()
