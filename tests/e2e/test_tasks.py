"""End to end in a real browser for the tasks beyond forecast and classify: generate, label_steps, tree,
translate.

For each task: pick its sample on the Data page (the bundled fortunes text and date pairs; a small
labelled-steps table and a small node table put beside them in the samples folder, $RNN_STUDIO_SAMPLES), train a tiny model from the
Train page, see the Evaluate page's result and the Export page (SavedModel always; ONNX / LiteRT and the
plain-Keras code offered, or the line saying why not). Screenshots: test-output/screenshots/task_*.png.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import CHROMIUM, SHOTS, chromium, idle, nav, set_number, shot, studio_server, title

REPO = Path(__file__).resolve().parents[2]
FORTUNES = REPO / "datasets" / "fortunes_sample.txt"
DATES = REPO / "datasets" / "dates_to_iso_sample.csv"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (headless Chromium for playwright)"),
    pytest.mark.skipif(not FORTUNES.exists(), reason="needs the bundled datasets/fortunes_sample.txt"),
]


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The app on a free port with its own data directory and a samples folder ($RNN_STUDIO_SAMPLES: the
    bundled fortunes text and date pairs, a small labelled-steps table and a small node table), and one headless
    Chromium page; {"page", "url", "home", "log"}."""
    from tests.conftest import make_trees_csv
    from tests.unit.test_label_steps import steps_frame

    tmp = tmp_path_factory.mktemp("e2e-tasks")
    samples = tmp / "samples"
    samples.mkdir()
    shutil.copy(FORTUNES, samples / FORTUNES.name)
    shutil.copy(DATES, samples / DATES.name)
    steps_frame(24).to_csv(samples / "steps_sample.csv", index=False)
    make_trees_csv(samples / "trees_sample.csv", n_trees=40)
    with studio_server(tmp, "e2e-tasks-server.log", env={"RNN_STUDIO_SAMPLES": str(samples)}, timeout=90) as app, \
            chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield {"page": page, "url": app.url, "home": app.home, "log": app.log}


def _go(page, link: str, heading: str) -> None:
    """Switch page from the sidebar; a click that lands while a script run ends is tried again."""
    for attempt in range(3):
        idle(page)
        nav(page, link)
        try:
            title(page, heading, timeout=20_000)
            break
        except Exception:
            if attempt == 2:
                raise
    idle(page)


def _pick_sample(page, url: str, name: str, task_label: str) -> None:
    """A fresh workspace on the Data page, the sample `name` picked; the task guessed from it."""
    t0 = time.perf_counter()
    page.goto(url, timeout=60_000)
    title(page, "Data")
    page.get_by_text("Bundled sample", exact=True).first.wait_for(timeout=60_000)
    idle(page)
    page.get_by_test_id("stSelectbox").filter(has_text="Sample").first.click()
    page.get_by_role("option", name=name).click()
    page.get_by_text(re.compile(re.escape(name))).first.wait_for(timeout=60_000)
    idle(page)
    task = page.get_by_test_id("stRadio").filter(has_text="Task").first
    try:  # the task guessed from the file, once the rerun after the pick has drawn it
        task.locator("label:has(input:checked)").filter(has_text=task_label).first.wait_for(timeout=60_000)
    except Exception as err:
        checked = task.locator("label:has(input:checked)").first.inner_text()
        raise AssertionError(f"task guessed for {name}: {checked!r}, expected {task_label!r}") from err
    page.get_by_text(re.compile("fits the spec")).first.wait_for(timeout=60_000)
    idle(page)
    print(f"Data page with {name}: {time.perf_counter() - t0:.1f} s")


def _train(page, epochs: int = 1, batch: int | None = None) -> None:
    _go(page, "Train", "Train")
    set_number(page, "Epochs", epochs)
    if batch:
        set_number(page, "Batch size", batch)
    page.get_by_text(re.compile(rf"· {epochs} epochs?")).first.wait_for(timeout=30_000)
    t0 = time.perf_counter()
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text(re.compile(r"— (queued|running|finished)")).first.wait_for(timeout=60_000)
    page.get_by_text(re.compile(r"— finished")).first.wait_for(timeout=240_000)
    idle(page)
    print(f"click Train -> finished shown: {time.perf_counter() - t0:.1f} s")


def _evaluate(page, marker: str, cards: set[str], png: str) -> None:
    t0 = time.perf_counter()
    _go(page, "Evaluate", "Evaluate")
    page.get_by_text(marker).first.wait_for(timeout=120_000)
    idle(page, 120_000)
    labels = {m.strip() for m in page.get_by_test_id("stMetricLabel").all_inner_texts()}
    assert cards <= labels, labels
    print(f"Evaluate drawn: {time.perf_counter() - t0:.1f} s")
    assert not page.get_by_test_id("stException").count(), page.get_by_test_id("stException").first.inner_text()
    page.wait_for_timeout(800)
    shot(page, png)


def _export(page, converts: bool, codes: bool, png: str) -> None:
    t0 = time.perf_counter()
    _go(page, "Export & predict", "Export")
    page.get_by_role("heading", name=re.compile("Predict on a new CSV|Score a new text file")).first.wait_for(timeout=120_000)
    idle(page, 120_000)
    assert not page.get_by_test_id("stException").count(), page.get_by_test_id("stException").first.inner_text()
    assert not page.get_by_test_id("stAlertContentError").count(), page.get_by_test_id("stAlertContentError").first.inner_text()
    page.get_by_role("button", name=re.compile("SavedModel")).first.wait_for(timeout=30_000)
    not_converted = page.get_by_text(re.compile(r"LiteRT \(\.tflite\): not offered for this run"))
    assert (page.get_by_role("button", name=re.compile("Convert")).count() > 0) == converts
    assert (not_converted.count() > 0) == (not converts)
    assert (page.get_by_role("button", name=re.compile("Write the code")).count() > 0) == codes
    print(f"Export drawn: {time.perf_counter() - t0:.1f} s")
    page.wait_for_timeout(800)
    shot(page, png)


def _tiny_language_model(page) -> None:
    """A 20-character context, and on the Design page one layer of 16 units with an 8-wide embedding."""
    set_number(page, "Context (characters)", 20)
    _go(page, "Design", "Design")
    page.get_by_text("Parameters", exact=True).wait_for(timeout=60_000)
    idle(page)
    set_number(page, "Embedding size", 8)
    set_number(page, "Stacked layers", 1)
    set_number(page, "Units", 16)


@dataclass(frozen=True)
class Flow:
    """One task's flow: the sample picked and the task guessed from it, what is set before training, the
    Evaluate page's marker and cards, and what the Export page offers (ONNX / LiteRT, plain-Keras code)."""

    sample: str
    task_label: str
    marker: str
    cards: frozenset[str]
    converts: bool
    codes: bool
    design: Callable[[object], None] | None = None
    batch: int | None = None
    after_train: str | None = None  # text the Train page shows once the run is over


FLOWS = {
    "generate": Flow(FORTUNES.name, "Generate", "Bits per character on the", frozenset({"Bits per character"}),
                     converts=False, codes=True, design=_tiny_language_model, batch=256,
                     after_train="Sample after epoch"),
    "label_steps": Flow("steps_sample.csv", "Label", "True vs predicted labels over time", frozenset({"Step accuracy"}),
                        converts=True, codes=True),
    "tree": Flow("trees_sample.csv", "trees", "by tree depth", frozenset({"Tree accuracy"}), converts=False, codes=True),
    # the default encoder-decoder on the bundled 300 date pairs; its Evaluate page ends with an attention heat map
    "translate": Flow(DATES.name, "Translate", "Attention of one example", frozenset(), converts=False, codes=True),
}


@pytest.mark.parametrize("task", list(FLOWS))
def test_task_flow_from_its_sample(task: str, studio: dict) -> None:
    """Data (sample picked, task guessed) -> Train (one epoch) -> Evaluate -> Export, for one task."""
    flow, page = FLOWS[task], studio["page"]
    try:
        _pick_sample(page, studio["url"], flow.sample, flow.task_label)
        if flow.design:
            flow.design(page)
        _train(page, epochs=1, batch=flow.batch)
        if flow.after_train:
            page.get_by_text(re.compile(flow.after_train)).first.wait_for(timeout=60_000)
        _evaluate(page, flow.marker, set(flow.cards), f"task_{task}_evaluate.png")
        _export(page, converts=flow.converts, codes=flow.codes, png=f"task_{task}_export.png")
    except Exception:
        page.screenshot(path=str(SHOTS / f"failure-task-{task}.png"), full_page=True)
        raise
