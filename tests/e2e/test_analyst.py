"""End to end as an analyst lives in the app, in a real browser:

- forecast flow in one browser context (workspace A): upload a monthly series, Design (task presets),
  Train with the warm worker, timing click -> first visible progress and click -> first finished epoch
  of the default preset, reload mid-run and after the run (everything restored), Evaluate, Export;
- classification flow in a second context at the same time (workspace B): bundled labelled sequences,
  task and preset switched with a notice, class distribution, Train, Evaluate, Export; workspace A's
  choices are untouched by B;
- no request leaves the machine, no Vega "Infinite extent" warning, no TensorFlow start-up lines in the
  server log; full-page screenshots of every page of both flows (test-output/screenshots/{fc,cls}_*.png).

Timings go to test-output/e2e_analyst_timings.json.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    CHROMIUM,
    OUT,
    SHOTS,
    chromium,
    idle,
    nav,
    set_number,
    shot,
    studio_server,
    title,
)

REPO = Path(__file__).resolve().parents[2]
SERIES = next((p for p in (REPO.parent / "shared/data/forecasting/airline_passengers_monthly.csv",
                           REPO.parent.parent / "shared/data/forecasting/airline_passengers_monthly.csv",  # worktree
                           REPO / "datasets/us_macro_quarterly.csv") if p.exists()), None)
SEQUENCES = REPO / "datasets/waveforms_classification.csv"
#: the progress bar's text once the worker has begun the job: "epoch 0/12 · preparing data" and on
PHASE = r"epoch \d+/\d+(, batch \S+)? · (preparing data|building the model|compiling|training|evaluating)"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
    pytest.mark.skipif(SERIES is None or not SEQUENCES.exists(), reason="needs the sample CSVs"),
]


def _wait_warm(home: Path, timeout: float = 300.0) -> float:
    """Seconds until the pre-started worker reports ready (it loads TensorFlow in the background)."""
    t0 = time.perf_counter()
    state = home / ".workers" / "warm.json"
    while time.perf_counter() - t0 < timeout:
        try:
            if json.loads(state.read_text()).get("state") == "ready":
                return time.perf_counter() - t0
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError("the warm worker did not become ready")


def _ws(page) -> str:
    m = re.search(r"[?&]ws=([a-z0-9]+)", page.url)
    assert m, page.url
    return m.group(1)


def _train(page, epochs: int, timings: dict, prefix: str, home: Path) -> str:
    """Set the epochs, click Train; times to the first phase shown, the first epoch and the end."""
    set_number(page, "Epochs", epochs)
    page.get_by_text(re.compile(rf"· {epochs} epochs")).wait_for(timeout=30_000)
    idle(page)
    timings[f"{prefix}warm_worker_ready_wait_s"] = round(_wait_warm(home), 2)
    t = time.perf_counter()
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text(re.compile(r"— (queued|running)")).first.wait_for(timeout=30_000)
    timings[f"{prefix}click_to_run_panel_s"] = round(time.perf_counter() - t, 2)
    page.get_by_text(re.compile(PHASE)).first.wait_for(timeout=120_000)
    timings[f"{prefix}click_to_first_visible_progress_s"] = round(time.perf_counter() - t, 2)
    # the first finished epoch: the panel's "Loss" card shows a number (it reads history.jsonl; "Val loss"
    # stays empty for a classification set too small for a validation part)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stMetric]')].some(m => m.innerText.startsWith('Loss')"
        " && /\\d/.test(m.innerText.slice(4)))", timeout=400_000, polling=200)
    timings[f"{prefix}click_to_first_epoch_shown_s"] = round(time.perf_counter() - t, 2)
    heading = page.get_by_text(re.compile(r"— (queued|running|finished)")).first.inner_text()
    return re.search(r"`?(\d{8}-\d{6}-[\w-]+)`?", heading).group(1)


def _finished(page, timeout: float = 400_000) -> None:
    page.get_by_text(re.compile(r"— finished")).first.wait_for(timeout=timeout)
    idle(page)


def test_analyst_workspaces_reload_timings_and_screenshots(tmp_path: Path) -> None:
    timings: dict[str, object] = {"load_average_at_start": os.getloadavg()}
    outside: list[str] = []
    console: list[str] = []
    home, log_path = tmp_path / "home", tmp_path / "server.log"
    # the app itself must keep TensorFlow quiet: no TF_CPP_MIN_LOG_LEVEL from the fixture
    env = {"RNN_STUDIO_WARM_WORKER": "1", "TF_CPP_MIN_LOG_LEVEL": None}
    try:
        with studio_server(tmp_path, "e2e-analyst-server.log", env=env) as studio, chromium() as browser:
            url = studio.url

            def context():
                ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = ctx.new_page()
                page.on("request", lambda r: None if r.url.startswith((url, "data:", "blob:", "about:"))
                        else outside.append(r.url))
                page.on("console", lambda m: console.append(f"{m.type}: {m.text[:300]}"))
                return page

            a, b = context(), context()
            try:
                # ---- A: forecast, Data ---------------------------------------------------------------
                a.goto(url, timeout=60_000)
                title(a, "Data")
                a.get_by_text("The data fits the spec").wait_for(timeout=120_000)
                ws_a = _ws(a)
                a.get_by_text("Upload a CSV", exact=True).click()
                a.locator("input[type=file]").first.set_input_files(str(SERIES))
                a.get_by_text(SERIES.name).first.wait_for(timeout=60_000)
                a.get_by_text("The data fits the spec").wait_for(timeout=60_000)
                idle(a)
                set_number(a, "Horizon (steps ahead)", 3)
                idle(a)
                a.get_by_text(re.compile(r"→ \d+ × 3")).first.wait_for(timeout=60_000)

                # ---- B: classification, in another context at the same time -------------------------
                b.goto(url, timeout=60_000)
                title(b, "Data")
                b.get_by_text("The data fits the spec").wait_for(timeout=120_000)
                ws_b = _ws(b)
                assert ws_b != ws_a
                b.get_by_test_id("stSelectbox").filter(has_text="Sample").first.click()
                b.get_by_role("option", name=SEQUENCES.name).click()
                b.get_by_text("default preset").first.wait_for(timeout=60_000)
                b.get_by_role("heading", name="Classes").wait_for(timeout=60_000)
                b.get_by_text("The data fits the spec").wait_for(timeout=60_000)
                idle(b)
                shot(b, "cls_1_data.png")

                # A is untouched by B: its own file and horizon after a reload
                a.reload()
                title(a, "Data")
                a.get_by_text("The data fits the spec").wait_for(timeout=120_000)
                assert _ws(a) == ws_a
                assert a.get_by_label("Horizon (steps ahead)", exact=True).input_value() == "3"
                a.get_by_text(SERIES.name).first.wait_for(timeout=30_000)
                idle(a)
                shot(a, "fc_1_data.png")

                # ---- Design for both -----------------------------------------------------------------
                nav(a, "Design")
                title(a, "Design")
                a.get_by_text("Parameters", exact=True).wait_for(timeout=60_000)
                a.locator("[data-testid='stGraphVizChart'] svg").first.wait_for(timeout=60_000)
                idle(a)
                shot(a, "fc_2_design.png")
                nav(b, "Design")
                title(b, "Design")
                b.get_by_text("Parameters", exact=True).wait_for(timeout=60_000)
                b.get_by_text("classify presets").first.wait_for(timeout=30_000)
                idle(b)
                shot(b, "cls_2_design.png")

                # ---- A: Train, reload mid-run -------------------------------------------------------
                nav(a, "Train")
                title(a, "Train")
                run_a = _train(a, 12, timings, "fc_", home)
                a.reload()
                title(a, "Train")
                a.get_by_text(re.compile(rf"{run_a}.*— (running|finished)")).first.wait_for(timeout=60_000)
                assert a.get_by_label("Epochs", exact=True).input_value() == "12"
                timings["fc_reload_mid_run_restored"] = True

                # ---- B: Train while A trains ---------------------------------------------------------
                nav(b, "Train")
                title(b, "Train")
                run_b = _train(b, 3, timings, "cls_", home)
                assert run_b != run_a

                _finished(a)
                a.get_by_text("Test MAE").wait_for(timeout=60_000)
                a.reload()
                title(a, "Train")
                a.get_by_text(re.compile(rf"{run_a}.*— finished")).first.wait_for(timeout=60_000)
                a.get_by_text("Test MAE").wait_for(timeout=60_000)
                timings["fc_reload_after_run_restored"] = True
                a.get_by_role("combobox", name="Reopen a run").wait_for(timeout=60_000)  # the page's end
                idle(a)
                shot(a, "fc_3_train.png")
                _finished(b)
                b.get_by_text("Test accuracy").wait_for(timeout=60_000)
                # B's box showed A's run before B trained; now it shows B's run, the newest (not the old
                # choice the browser held for the box), and "Open" (another script run) opens that run
                from playwright.sync_api import expect

                reopen = b.get_by_role("combobox", name="Reopen a run")
                expect(reopen).to_have_value(re.compile(rf"^{run_b}\b"), timeout=30_000)
                b.get_by_test_id("stButton").get_by_role("button", name="Open", exact=True).click()
                idle(b)
                expect(reopen).to_have_value(re.compile(rf"^{run_b}\b"), timeout=30_000)
                b.get_by_text(re.compile(rf"{run_b}.*— finished")).first.wait_for(timeout=30_000)
                shot(b, "cls_3_train.png")

                # ---- Evaluate and Export -------------------------------------------------------------
                for page, tag, marker in ((a, "fc", "Actual vs predicted"), (b, "cls", "Confusion matrix")):
                    nav(page, "Evaluate")
                    title(page, "Evaluate")
                    page.get_by_text(marker).first.wait_for(timeout=120_000)
                    idle(page, 120_000)
                    page.wait_for_timeout(1500)
                    shot(page, f"{tag}_4_evaluate.png")
                    nav(page, "Export & predict")
                    title(page, "Export")
                    page.get_by_text("Contract").first.wait_for(timeout=300_000)
                    idle(page, 120_000)
                    if tag == "fc":
                        page.get_by_role("button", name=re.compile("Forecast$")).click(timeout=300_000)  # TF loads
                        page.get_by_text("Forecast CSV").wait_for(timeout=120_000)
                        idle(page)
                    page.wait_for_timeout(1000)
                    shot(page, f"{tag}_5_export.png")
            except Exception:
                for page, tag in ((a, "a"), (b, "b")):
                    page.screenshot(path=str(SHOTS / f"failure-analyst-{tag}.png"), full_page=True)
                raise
    finally:
        OUT.mkdir(exist_ok=True)
        timings["load_average_at_end"] = os.getloadavg()
        (OUT / "e2e_analyst_timings.json").write_text(json.dumps(timings, indent=2) + "\n")
        print(json.dumps(timings, indent=2))

    assert not outside, f"requests to other hosts: {sorted(set(outside))[:5]}"
    assert not [c for c in console if "Infinite extent" in c], [c for c in console if "Infinite" in c][:3]
    server_log = log_path.read_text(errors="replace")
    assert "cuda" not in server_log.lower() and "oneDNN" not in server_log and "tensorflow/core" not in server_log, \
        server_log[-2000:]
    saved = json.loads((home / "workspaces" / f"{ws_a}.json").read_text())
    assert saved["run_id"] == run_a and saved["spec"]["data"]["horizon"] == 3
