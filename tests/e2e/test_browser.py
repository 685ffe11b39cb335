"""End to end in a real browser: upload, preset, train two epochs, metrics, SavedModel download.

Also measures: seconds from `streamlit run app.py` to the first page drawn, seconds from clicking Train
to the first progress update, and how fast the app answers page switches while a run trains.
Figures go to test-output/e2e_timings.json; screenshots to test-output/screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
OUT = REPO / "test-output"
SHOTS = OUT / "screenshots"
SAMPLE = next((p for p in (REPO.parent / "shared/data/forecasting/airline_passengers_monthly.csv",
                            REPO / "datasets/nile_flow_annual.csv") if p.exists()), None)
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
    pytest.mark.skipif(SAMPLE is None, reason="needs a sample CSV"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _nav(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()


def _title(page, text: str, timeout: float = 60_000) -> None:
    page.get_by_role("heading", name=re.compile(re.escape(text))).first.wait_for(timeout=timeout)


def _idle(page, timeout: float = 90_000) -> None:
    """Wait until the script run is over (no 'Running...' status widget)."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')",
        timeout=timeout,
    )


def test_upload_preset_train_evaluate_export(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    home = tmp_path / "home"
    port = _free_port()
    env = {**os.environ, "RNN_STUDIO_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3"}
    timings: dict[str, object] = {}
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        t0 = time.perf_counter()
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--browser.gatherUsageStats", "false"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}/"
            while True:  # the server is up when the page loads
                try:
                    page.goto(url, timeout=2_000)
                    break
                except Exception:
                    if time.perf_counter() - t0 > 60 or server.poll() is not None:
                        raise
                    time.sleep(0.2)
            _title(page, "Data")
            page.get_by_test_id("stDataFrame").first.wait_for(timeout=60_000)
            timings["startup_to_first_page_s"] = round(time.perf_counter() - t0, 2)

            # ---- Data: upload a CSV ---------------------------------------------------------------
            page.get_by_text("Upload a CSV", exact=True).click()
            page.locator("input[type=file]").first.set_input_files(str(SAMPLE))
            page.get_by_text(SAMPLE.name).first.wait_for(timeout=30_000)
            page.get_by_text("The data fits the spec").wait_for(timeout=60_000)
            _idle(page)
            page.screenshot(path=str(SHOTS / "1_data.png"), full_page=True)

            # ---- Design: pick a preset --------------------------------------------------------------
            _nav(page, "Design")
            _title(page, "Design")
            page.locator(".st-key-preset_simple_rnn_baseline button").click()
            page.get_by_text("SimpleRNN baseline ✓").wait_for(timeout=30_000)
            page.get_by_text("Trainable parameters").wait_for(timeout=120_000)
            page.locator("[data-testid='stGraphVizChart'] svg").first.wait_for(timeout=60_000)
            _idle(page, 180_000)
            page.screenshot(path=str(SHOTS / "2_design.png"), full_page=True)

            # ---- Train: two epochs ------------------------------------------------------------------
            _nav(page, "Train")
            _title(page, "Train")
            epochs = page.get_by_label("Epochs")
            epochs.fill("2")
            epochs.press("Enter")
            _idle(page)
            t_click = time.perf_counter()
            page.get_by_role("button", name=re.compile("Train")).click()
            page.get_by_text(re.compile(r"— (queued|running)")).first.wait_for(timeout=30_000)
            timings["click_to_run_panel_s"] = round(time.perf_counter() - t_click, 2)
            page.get_by_text(re.compile(r"epoch [12]/2")).first.wait_for(timeout=180_000)
            timings["click_to_first_progress_s"] = round(time.perf_counter() - t_click, 2)

            # responsiveness while training: switch pages and back, time each answer
            answers = []
            running_during = []
            for _ in range(2):
                t = time.perf_counter()
                _nav(page, "Data")
                _title(page, "Data")
                answers.append(round(time.perf_counter() - t, 2))
                t = time.perf_counter()
                _nav(page, "Train")
                page.get_by_text(re.compile(r"— (queued|running|finished)")).first.wait_for(timeout=30_000)
                answers.append(round(time.perf_counter() - t, 2))
                running_during.append(page.get_by_text(re.compile(r"— running")).count() > 0)
            timings["page_switch_while_training_s"] = answers
            timings["run_still_running_during_switches"] = running_during

            page.get_by_text(re.compile(r"— finished")).first.wait_for(timeout=240_000)
            timings["click_to_finished_s"] = round(time.perf_counter() - t_click, 2)
            page.get_by_text("Test MAE").wait_for(timeout=30_000)
            _idle(page)
            page.screenshot(path=str(SHOTS / "3_train.png"), full_page=True)

            # ---- Evaluate ---------------------------------------------------------------------------
            _nav(page, "Evaluate")
            _title(page, "Evaluate")
            page.get_by_text("Actual vs predicted").wait_for(timeout=120_000)
            _idle(page, 120_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(SHOTS / "4_evaluate.png"), full_page=True)
            metric_labels = page.get_by_test_id("stMetricLabel").all_inner_texts()
            assert {"MAE", "RMSE"} <= {m.strip() for m in metric_labels}, metric_labels

            # ---- Export: download and load the SavedModel ------------------------------------------
            _nav(page, "Export & predict")
            _title(page, "Export")
            page.get_by_role("button", name=re.compile("Forecast$")).click()
            page.get_by_text("Forecast CSV").wait_for(timeout=120_000)
            _idle(page)
            with page.expect_download(timeout=60_000) as dl:
                page.get_by_role("button", name=re.compile("SavedModel")).click()
            zpath = tmp_path / "saved_model.zip"
            dl.value.save_as(str(zpath))
            page.screenshot(path=str(SHOTS / "5_export.png"), full_page=True)
        finally:
            browser.close()
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()

    with zipfile.ZipFile(zpath) as zf:
        zf.extractall(tmp_path / "unzipped")
    meta = json.loads(next(home.glob("runs/*/metadata.json")).read_text())
    code = (
        "import sys, numpy as np, tensorflow as tf\n"
        "m = tf.saved_model.load(sys.argv[1])\n"
        f"x = np.full((2, {meta['lookback']}, {len(meta['features'])}), 300.0, dtype='float32')\n"
        "y = m.serve(tf.constant(x)).numpy()\n"
        "assert 'builder' not in sys.modules\n"
        "print(y.shape)\n"
    )
    res = subprocess.run([sys.executable, "-c", code, str(tmp_path / "unzipped" / "saved_model")],
                         capture_output=True, text=True, timeout=180, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                         cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().splitlines()[-1] == f"(2, {meta['horizon']}, {len(meta['targets'])})"

    OUT.mkdir(exist_ok=True)
    (OUT / "e2e_timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    print(json.dumps(timings, indent=2))
    assert timings["startup_to_first_page_s"] < 60
    assert all(a < 10 for a in timings["page_switch_while_training_s"])
