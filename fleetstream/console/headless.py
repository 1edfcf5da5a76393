"""Headless Chromium for the console's browser tests and benchmark (selenium,
Debian's ``chromium`` and ``chromium-driver``: scripts/services.sh installs them)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

CHROMIUM = os.environ.get("FLEETSTREAM_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("FLEETSTREAM_CHROMEDRIVER", "/usr/bin/chromedriver")


def browser(width: int = 1400, height: int = 900):
    """A headless Chromium driven by selenium, with the browser log kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(exe):
            raise RuntimeError(f"{exe} not found: install chromium and chromium-driver "
                               "(scripts/services.sh start does)")
    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              f"--window-size={width},{height}", "--disable-extensions"):
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=o)


def severe(driver) -> list[str]:
    """The SEVERE entries of the browser console log since the last call."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ConsoleProcess:
    """``fleetstream console ARGS`` in a subprocess on a free port."""

    def __init__(self, *args: str, log_path: str | None = None, env: dict | None = None,
                 timeout_s: float = 60.0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fleetstream.console.cmd", "--port", str(self.port), *args],
            stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        end = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(self.url + "api/state", timeout=5) as r:
                    r.read()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > end:
                    self.stop()
                    raise RuntimeError(f"console did not start (exit {self.proc.poll()}); "
                                       f"see {log_path}")
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.log is not subprocess.DEVNULL:
            self.log.close()
