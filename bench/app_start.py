"""Section 2: app start, `streamlit run app.py` against a one-line Streamlit app started the same way.

Each start: a free port, `python -m streamlit run SCRIPT --server.headless true --server.port PORT`
with RNN_STUDIO_HOME in a temporary directory. The clock starts at the spawn; "served" is the first
200 from /_stcore/health; "drawn" is the first h1 (st.title) with text in headless Chromium (Playwright,
/usr/bin/chromium, launched before the clock starts). Without Chromium or Playwright only "served" and
the first HTTP GET of the page are measured. Starts alternate ours / reference; the median counts.

Also: the Data page (app.py's default page) is run under streamlit.testing.v1.AppTest in a fresh
process, which reports whether `tensorflow` ended up in sys.modules and, if so, the import chain.

    .venv/bin/python -m bench.app_start [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.cells import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
HELLO = 'import streamlit as st\n\nst.title("hello")\n'
TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (localhost only)
        return resp.status, resp.read().decode("utf-8", "replace")


def start_once(script: Path, home: Path, browser: Any | None) -> dict[str, float | str]:
    """Spawn streamlit on `script`; seconds until served (health) and drawn (h1 text, or first GET)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "RNN_STUDIO_HOME": str(home), "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    cmd = [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    with tempfile.TemporaryFile() as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=script.parent, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"streamlit exited {proc.returncode}: {log.read().decode()[-2000:]}")
                if time.perf_counter() - t0 > TIMEOUT:
                    raise TimeoutError(f"{script.name}: not healthy after {TIMEOUT:.0f} s")
                try:
                    if _get(f"{url}/_stcore/health", 0.5)[0] == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.05)
            served = time.perf_counter() - t0
            if browser is None:
                _get(url + "/", 10)
                return {"served": served, "drawn": time.perf_counter() - t0, "title": ""}
            page = browser.new_page()
            try:
                page.goto(url + "/", timeout=TIMEOUT * 1000)
                heading = page.locator("h1").first
                heading.wait_for(state="visible", timeout=TIMEOUT * 1000)
                page.wait_for_function("() => { const h = document.querySelector('h1'); "
                                       "return h && h.innerText.trim().length > 0; }", timeout=TIMEOUT * 1000)
                drawn = time.perf_counter() - t0
                title = heading.inner_text().strip()
            finally:
                page.close()
            return {"served": served, "drawn": drawn, "title": title}
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


TF_PROBE = r'''
import json, sys, traceback
from importlib.abc import MetaPathFinder

chain = []

class Spy(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" and not chain:
            chain.extend(f"{f.filename.rsplit('/', 2)[-2]}/{f.filename.rsplit('/', 1)[-1]}:{f.lineno}"
                         for f in traceback.extract_stack()
                         if ROOT in f.filename and "/.venv" not in f.filename and "venv/" not in f.filename)
        return None

sys.meta_path.insert(0, Spy())
from streamlit.testing.v1 import AppTest

at = AppTest.from_file(APP, default_timeout=120)
at.run()
print("RESULT " + json.dumps({
    "tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules, "chain": chain,
    "titles": [t.value for t in at.title], "exceptions": [str(e.value)[:200] for e in at.exception],
}))
'''


def tf_probe(home: Path) -> dict[str, Any]:
    """Run app.py (default page: Data) under AppTest in a fresh process; was TensorFlow imported?"""
    code = f"ROOT = {str(ROOT)!r}\nAPP = {str(ROOT / 'app.py')!r}\n" + TF_PROBE
    env = {**os.environ, "RNN_STUDIO_HOME": str(home), "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"AppTest probe failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def launch_browser() -> tuple[Any, Any, str]:
    """(playwright, browser, how) or (None, None, why not)."""
    if not Path(CHROMIUM).exists():
        return None, None, f"no {CHROMIUM}: first HTTP GET instead of drawn page"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None, None, "playwright not importable: first HTTP GET instead of drawn page"
    pw = sync_playwright().start()
    return pw, pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS), "headless Chromium"


def run(quick: bool = False, log: Any = None) -> list[dict[str, Any]]:
    repeats = 1 if quick else 3
    tmp = Path(tempfile.mkdtemp(prefix="rnn-studio-appstart-"))
    rows: list[dict[str, Any]] = []
    try:
        hello = tmp / "hello_app.py"
        hello.write_text(HELLO, encoding="utf-8")
        pw, browser, how = launch_browser()
        times: dict[str, list[dict[str, Any]]] = {"ours": [], "ref": []}
        try:
            # one untimed start of each first: page cache and .pyc files as for a returning user
            for _ in range(0 if quick else 1):
                start_once(ROOT / "app.py", tmp / "home-warm", browser)
                start_once(hello, tmp / "home-warm", browser)
            for k in range(repeats):
                times["ours"].append(start_once(ROOT / "app.py", tmp / f"home-{k}", browser))
                times["ref"].append(start_once(hello, tmp / f"home-ref-{k}", browser))
        finally:
            if browser is not None:
                browser.close()
                pw.stop()
        if log:
            log(f"  app: {times}")
        med = {side: {key: statistics.median(float(t[key]) for t in ts) for key in ("served", "drawn")}
               for side, ts in times.items()}
        n = f"median of {repeats}; after one untimed start of each" if not quick else "1 start (quick)"
        rows.append({"figure": "app start: spawn -> /_stcore/health ok", "ours": med["ours"]["served"],
                     "reference": med["ref"]["served"], "unit": "s",
                     "note": f"reference: one-line st.title app; {n}"})
        rows.append({"figure": "app start: spawn -> first page drawn (h1 text)", "ours": med["ours"]["drawn"],
                     "reference": med["ref"]["drawn"], "unit": "s",
                     "note": f"{how}; h1 {times['ours'][-1]['title']!r} vs {times['ref'][-1]['title']!r}; {n}"})
        probe = tf_probe(tmp / "home-probe")
        chain = " -> ".join(probe["chain"]) if probe["chain"] else ""
        rows.append({"figure": "app: first page (Data) drawn without importing TensorFlow",
                     "ours": not probe["tensorflow"], "reference": None, "ratio": None, "unit": "yes/no",
                     "note": (f"AppTest of app.py: titles {probe['titles']}; keras imported: "
                              f"{'yes' if probe['keras'] else 'no'}" + (f"; import chain: {chain}" if chain else "")
                              + (f"; exceptions: {probe['exceptions']}" if probe["exceptions"] else ""))})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    from bench.run import print_table

    print_table(run(args.quick, log=lambda m: print(m, file=sys.stderr, flush=True)))


if __name__ == "__main__":
    main()
