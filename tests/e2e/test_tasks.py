"""End to end in a real browser for the tasks beyond forecast and classify: generate, label_steps, tree.

For each task: pick its sample on the Data page (the bundled fortunes text; a small labelled-steps table and
a small node table put beside it in the samples folder, $RNN_STUDIO_SAMPLES), train a tiny model from the
Train page, see the Evaluate page's result and the Export page (SavedModel always; ONNX / LiteRT and the
plain-Keras code offered, or the line saying why not). Screenshots: test-output/screenshots/task_*.png.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_browser import BROWSER_ARGS, CHROMIUM, OUT, SHOTS, _free_port, _idle, _nav, _shot, _title

REPO = Path(__file__).resolve().parents[2]
FORTUNES = REPO / "datasets" / "fortunes_sample.txt"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (headless Chromium for playwright)"),
    pytest.mark.skipif(not FORTUNES.exists(), reason="needs the bundled datasets/fortunes_sample.txt"),
]


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A Streamlit server on a free port with its own data directory and samples folder, and one
    headless Chromium page; {"page", "url", "home", "log"}."""
    from playwright.sync_api import sync_playwright

    from tests.conftest import make_trees_csv
    from tests.unit.test_label_steps import steps_frame

    SHOTS.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path_factory.mktemp("e2e-tasks")
    samples = tmp / "samples"
    samples.mkdir()
    shutil.copy(FORTUNES, samples / FORTUNES.name)
    steps_frame(24).to_csv(samples / "steps_sample.csv", index=False)
    make_trees_csv(samples / "trees_sample.csv", n_trees=40)
    home, port = tmp / "home", _free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "RNN_STUDIO_HOME": str(home), "RNN_STUDIO_SAMPLES": str(samples), "TF_CPP_MIN_LOG_LEVEL": "3"}
    log_path = tmp / "server.log"
    log = open(log_path, "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert time.time() < deadline and server.poll() is None, log_path.read_text()[-3000:]
            time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            try:
                yield {"page": page, "url": url, "home": home, "log": log_path}
            finally:
                browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        OUT.mkdir(exist_ok=True)
        (OUT / "e2e-tasks-server.log").write_bytes(log_path.read_bytes())


def _go(page, nav: str, title: str) -> None:
    """Switch page from the sidebar; a click that lands while a script run ends is tried again."""
    for attempt in range(3):
        _idle(page)
        _nav(page, nav)
        try:
            _title(page, title, timeout=20_000)
            break
        except Exception:
            if attempt == 2:
                raise
    _idle(page)


def _set_number(page, label: str, value: int) -> None:
    box = page.get_by_label(label, exact=True).first
    box.fill(str(value))
    box.press("Enter")
    _idle(page)


def _pick_sample(page, url: str, name: str, task_label: str) -> None:
    """A fresh workspace on the Data page, the sample `name` picked; the task guessed from it."""
    t0 = time.perf_counter()
    page.goto(url, timeout=60_000)
    _title(page, "Data")
    page.get_by_text("Bundled sample", exact=True).first.wait_for(timeout=60_000)
    _idle(page)
    page.get_by_test_id("stSelectbox").filter(has_text="Sample").first.click()
    page.get_by_role("option", name=name).click()
    page.get_by_text(re.compile(re.escape(name))).first.wait_for(timeout=60_000)
    _idle(page)
    task = page.get_by_test_id("stRadio").filter(has_text="Task").first
    try:  # the task guessed from the file, once the rerun after the pick has drawn it
        task.locator("label:has(input:checked)").filter(has_text=task_label).first.wait_for(timeout=60_000)
    except Exception as err:
        checked = task.locator("label:has(input:checked)").first.inner_text()
        raise AssertionError(f"task guessed for {name}: {checked!r}, expected {task_label!r}") from err
    page.get_by_text(re.compile("fits the spec")).first.wait_for(timeout=60_000)
    _idle(page)
    print(f"Data page with {name}: {time.perf_counter() - t0:.1f} s")


def _train(page, epochs: int = 1, batch: int | None = None) -> None:
    _go(page, "Train", "Train")
    _set_number(page, "Epochs", epochs)
    if batch:
        _set_number(page, "Batch size", batch)
    page.get_by_text(re.compile(rf"· {epochs} epochs?")).first.wait_for(timeout=30_000)
    t0 = time.perf_counter()
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text(re.compile(r"— (queued|running|finished)")).first.wait_for(timeout=60_000)
    page.get_by_text(re.compile(r"— finished")).first.wait_for(timeout=240_000)
    _idle(page)
    print(f"click Train -> finished shown: {time.perf_counter() - t0:.1f} s")


def _evaluate(page, marker: str, cards: set[str], shot: str) -> None:
    t0 = time.perf_counter()
    _go(page, "Evaluate", "Evaluate")
    page.get_by_text(marker).first.wait_for(timeout=120_000)
    _idle(page, 120_000)
    labels = {m.strip() for m in page.get_by_test_id("stMetricLabel").all_inner_texts()}
    assert cards <= labels, labels
    print(f"Evaluate drawn: {time.perf_counter() - t0:.1f} s")
    assert not page.get_by_test_id("stException").count(), page.get_by_test_id("stException").first.inner_text()
    page.wait_for_timeout(800)
    _shot(page, shot)


def _export(page, converts: bool, codes: bool, shot: str) -> None:
    t0 = time.perf_counter()
    _go(page, "Export & predict", "Export")
    page.get_by_role("heading", name=re.compile("Predict on a new CSV|Score a new text file")).first.wait_for(timeout=120_000)
    _idle(page, 120_000)
    assert not page.get_by_test_id("stException").count(), page.get_by_test_id("stException").first.inner_text()
    assert not page.get_by_test_id("stAlertContentError").count(), page.get_by_test_id("stAlertContentError").first.inner_text()
    page.get_by_role("button", name=re.compile("SavedModel")).first.wait_for(timeout=30_000)
    not_converted = page.get_by_text(re.compile(r"LiteRT \(\.tflite\): not offered for this run"))
    assert (page.get_by_role("button", name=re.compile("Convert")).count() > 0) == converts
    assert (not_converted.count() > 0) == (not converts)
    assert (page.get_by_role("button", name=re.compile("Write the code")).count() > 0) == codes
    print(f"Export drawn: {time.perf_counter() - t0:.1f} s")
    page.wait_for_timeout(800)
    _shot(page, shot)


def _failure(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"failure-task-{name}.png"), full_page=True)


def test_generate_from_the_bundled_text(studio: dict) -> None:
    page = studio["page"]
    try:
        _pick_sample(page, studio["url"], FORTUNES.name, "Generate")
        _set_number(page, "Context (characters)", 20)
        # a tiny model on the Design page: one layer of 16 units, 8-wide embedding
        _go(page, "Design", "Design")
        page.get_by_text("Parameters", exact=True).wait_for(timeout=60_000)
        _idle(page)
        _set_number(page, "Embedding size", 8)
        _set_number(page, "Stacked layers", 1)
        _set_number(page, "Units", 16)
        _train(page, epochs=1, batch=256)
        page.get_by_text(re.compile("Sample after epoch")).first.wait_for(timeout=60_000)
        _evaluate(page, "Bits per character on the", {"Bits per character"}, "task_generate_evaluate.png")
        _export(page, converts=False, codes=True, shot="task_generate_export.png")
    except Exception:
        _failure(page, "generate")
        raise


def test_label_steps_from_a_sample_table(studio: dict) -> None:
    page = studio["page"]
    try:
        _pick_sample(page, studio["url"], "steps_sample.csv", "Label")
        _train(page, epochs=1)
        _evaluate(page, "True vs predicted labels over time", {"Step accuracy"}, "task_label_steps_evaluate.png")
        _export(page, converts=True, codes=True, shot="task_label_steps_export.png")
    except Exception:
        _failure(page, "label_steps")
        raise


def test_tree_from_a_sample_node_table(studio: dict) -> None:
    page = studio["page"]
    try:
        _pick_sample(page, studio["url"], "trees_sample.csv", "trees")
        _train(page, epochs=1)
        _evaluate(page, "by tree depth", {"Tree accuracy"}, "task_tree_evaluate.png")
        _export(page, converts=False, codes=False, shot="task_tree_export.png")
    except Exception:
        _failure(page, "tree")
        raise
