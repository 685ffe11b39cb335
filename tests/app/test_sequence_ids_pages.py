"""The Data page reads a classify / label_steps file as training does: sequence ids as the text the file
holds, so `001`, `1` and `1.0` are three sequences in its preview, counts and check alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.tasks.registry import get_task
from tests.app.conftest import by_label, errors, make_app, seeded
from tests.unit.test_sequence_ids_audit import long_file, spec


@pytest.mark.parametrize("task", ["classify", "label_steps"])
def test_data_page_counts_ids_as_training_does(tmp_path: Path, task: str) -> None:
    """Before: the page read the id column as numbers, so `001`, `1` and `1.0` were one sequence in its
    picker, class counts and check while training counted three."""
    ids = ["001", "1", "1.0", *[str(k) for k in range(2, 14)]]
    path = long_file(tmp_path / "d.csv", ids, per_step=task == "label_steps")
    s = spec(task, order_col="t")
    trained = get_task(task).prepare(path, s)
    assert len(trained.ids) == 15
    at = make_app("pages/data.py", seeded(path, spec=s.model_dump(mode="json")))
    assert not at.exception and not errors(at), errors(at)
    cards = {m.label: m.value for m in at.metric}
    assert sum(map(int, cards["Sequences (train / val / test)"].split(" / "))) == 15, cards
    assert any("writes 1 number(s) in several ways ('001' and '1' and '1.0'" in c.value for c in at.caption)
    picker = by_label(at.selectbox, "Sequence")
    assert {"001", "1", "1.0"} <= set(map(str, picker.options)), picker.options
    if task == "classify":
        assert any(c.value.startswith("15 sequences in 2 classes") for c in at.caption), [c.value for c in at.caption]
    picker.set_value("1.0").run()
    assert not at.exception and not errors(at)
