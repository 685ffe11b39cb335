"""What the browser tests share: headless Chromium's path and flags, the page helpers, and
`studio_server`, a context manager that starts `streamlit run app.py` on a free port with its own data
directory, waits for its health check, and stops it afterwards (its log copied to test-output/)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
OUT = REPO / "test-output"
SHOTS = OUT / "screenshots"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Studio:
    """A running app: its `url` (ends with "/"), data directory `home`, server `process` and `log` file;
    `started`: time.perf_counter() when the process was started; `ready_s`: seconds until its health check
    answered."""

    url: str
    home: Path
    process: subprocess.Popen
    log: Path
    started: float
    ready_s: float


@contextmanager
def studio_server(tmp: Path, log_name: str, env: dict[str, str | None] | None = None,
                  timeout: float = 120.0) -> Iterator[Studio]:
    """`streamlit run app.py` with RNN_STUDIO_HOME = tmp/home; `env` adds variables (None removes one).
    The server log goes to tmp/server.log and, when the server stops, to test-output/`log_name`."""
    home, port = tmp / "home", free_port()
    url = f"http://127.0.0.1:{port}/"
    full_env = {**os.environ, "RNN_STUDIO_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3"}
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    log_path = tmp / "server.log"
    log = open(log_path, "wb")  # noqa: SIM115
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() - started > timeout or server.poll() is not None:
                raise AssertionError(f"the app did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)
        yield Studio(url, home, server, log_path, started, time.perf_counter() - started)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        OUT.mkdir(exist_ok=True)
        (OUT / log_name).write_bytes(log_path.read_bytes())


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser (playwright) from Debian's package, with the project's flags."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# ---- page helpers ------------------------------------------------------------------------------------
def nav(page: Any, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()


def title(page: Any, text: str, timeout: float = 60_000) -> None:
    page.get_by_role("heading", name=re.compile(re.escape(text))).first.wait_for(timeout=timeout)


def idle(page: Any, timeout: float = 90_000) -> None:
    """Wait until the script run is over (no 'Running...' status widget)."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')",
        timeout=timeout,
    )


def shot(page: Any, name: str) -> None:
    """A screenshot of the whole page: grow the viewport to the app's scroll height first, and again until
    that height holds (the app scrolls inside its own container, so what lies below the viewport is not in a
    full-page screenshot; charts and tables drawn late made the first measure short and cut the page)."""
    measure = ("() => { const m = document.querySelector('[data-testid=stMainBlockContainer]');"
               " return m ? m.scrollHeight + 120 : 1000; }")
    height = 0
    for _ in range(6):
        want = int(min(max(page.evaluate(measure), 1000), 5000))
        if want == height:
            break
        height = want
        page.set_viewport_size({"width": 1400, "height": height})
        page.wait_for_timeout(800)
    page.screenshot(path=str(SHOTS / name), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})


def set_number(page: Any, label: str, value: int) -> None:
    """Type `value` into the number input labelled `label` and wait for the rerun."""
    box = page.get_by_label(label, exact=True).first
    box.fill(str(value))
    box.press("Enter")
    idle(page)
