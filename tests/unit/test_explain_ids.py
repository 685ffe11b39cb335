"""`explain` (CLI and Evaluate page) reads the run's data as training does: sequence ids as the text the
file holds, so sequence number k is the one training numbered, `001`, `1` and `1.0` three sequences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from builder.training.runs import Run


@pytest.fixture
def ids_run(tmp_path: Path) -> tuple[Run, Path, object]:
    """An untrained classify run on sequences 001, 1, 1.0 (values 1, 2, 3) and 2..11 (values 10+k)."""
    from builder.model.build import build_model
    from builder.spec import ModelSpec
    from builder.tasks.registry import get_task
    from builder.training.artifacts import metadata_for

    ids = ["001", "1", "1.0", *[str(k) for k in range(2, 12)]]
    value = {"001": 1, "1": 2, "1.0": 3} | {str(k): 10 + k for k in range(2, 12)}
    rows = [f"{i},{t},{value[i]},c{k % 2}" for k, i in enumerate(ids) for t in range(3)]
    path = tmp_path / "d.csv"
    path.write_text("sequence_id,t,a,label\n" + "\n".join(rows) + "\n")
    spec = ModelSpec.from_dict({"task": "classify", "data": {"order_col": "t"},
                                "blocks": [{"kind": "recurrent", "cell": "gru", "units": 4}]})
    task = get_task("classify")
    resolved = task.resolve(task.prepare(path, spec))
    model = build_model(spec, resolved)
    run = Run(tmp_path / "run")
    run.path.mkdir()
    run.write_spec(spec)
    run.write_json("metadata.json", metadata_for(spec, resolved, model))
    return run, path, model


@pytest.mark.parametrize(("index", "value"), [(0, 1.0), (1, 2.0), (2, 3.0), (3, 12.0)])
def test_explain_takes_the_sequence_training_numbered(ids_run, index, value):
    """Before: explain read the ids as numbers, so 001, 1 and 1.0 were one sequence (an error: rows at one
    position), and every later index named another sequence than training's."""
    from builder.app.explain import explain_on, run_table
    from builder.serving.explain import explain_file

    run, path, model = ids_run
    _, table = explain_file(run, path, index, steps=4, model=model)
    assert set(table["value"].dropna()) == {value}
    page = explain_on(run, run_table(run, str(path)), index, "mean", 4, model)["table"]
    assert set(page["value"].dropna()) == {value}
    assert np.isfinite(page["integrated_gradients"]).all()
