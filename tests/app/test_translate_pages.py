"""Pages with the `translate` task: the Data page's columns, pairs preview and check (and a bad file), the
Design page's encoder-decoder widgets, the Train page's teacher-forcing schedule, the Evaluate page's verdict,
scores, examples and attention heat map, and the Export page's SavedModel with ONNX / LiteRT refused and plain-Keras code offered."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from tests.app.conftest import by_label, errors, make_app
from tests.conftest import DATASETS, tiny_translate_spec

SAMPLE = DATASETS / "dates_to_iso_sample.csv"


def _seed(csv: Path, **extra: object) -> dict:
    return {"source": {"path": str(csv), "name": csv.name, "kind": "upload"},
            "spec": tiny_translate_spec().model_dump(mode="json"), "spec_rev": 0, **extra}


def _charts(at) -> list[dict]:
    return [json.loads(el.proto.spec) for kind in ("arrow_vega_lite_chart", "vega_lite_chart") for el in at.get(kind)]


def test_data_page_chooses_the_text_columns_and_checks_the_pairs() -> None:
    at = make_app("pages/data.py", _seed(SAMPLE))
    assert not at.exception and not errors(at), errors(at)
    assert by_label(at.radio, "Task").value == "translate"
    assert by_label(at.selectbox, "Source text column").value == "source"
    assert by_label(at.selectbox, "Target text column").value == "target"
    cards = {m.label: m.value for m in at.metric}
    assert cards["Pairs (train / val / test)"] == "225 / 30 / 45"
    assert cards["Longest text (tokens)"].endswith("→ 11")
    assert "Pairs" in [h.value for h in at.subheader]


def test_data_page_names_the_empty_cell_and_keeps_working(tmp_path: Path) -> None:
    bad = tmp_path / "pairs.csv"
    df = pd.read_csv(SAMPLE, dtype=str).head(40)
    df.loc[6, "target"] = ""
    df.to_csv(bad, index=False)
    at = make_app("pages/data.py", _seed(bad))
    assert not at.exception
    assert any("row 8, column 'target': expected a non-empty target text" in e for e in errors(at)), errors(at)
    at.switch_page("pages/design.py")  # the app still answers
    at.run()
    assert not at.exception and by_label(at.selectbox, "Attention").value == "bahdanau"


def test_design_page_offers_the_encoder_decoder_options() -> None:
    at = make_app("pages/design.py", _seed(SAMPLE))
    assert not at.exception and not errors(at), errors(at)
    assert by_label(at.selectbox, "Attention").value == "bahdanau"
    by_label(at.selectbox, "Attention").set_value("luong").run()
    assert not at.exception and not errors(at), errors(at)
    assert at.session_state["spec"]["seq2seq"]["attention"] == "luong"
    by_label(at.selectbox, "Luong score").set_value("dot").run()  # bidirectional encoder: refused, one line
    assert any("seq2seq.score: 'dot'" in e for e in errors(at)), errors(at)
    assert at.session_state["spec"]["seq2seq"]["score"] == "general"


def test_train_page_sets_the_teacher_forcing_schedule() -> None:
    at = make_app("pages/train.py", _seed(SAMPLE))
    assert not at.exception and not errors(at), errors(at)
    by_label(at.selectbox, "Schedule").set_value("exponential").run()
    by_label(at.number_input, "k").set_value(0.5).run()
    assert not at.exception and not errors(at), errors(at)
    assert at.session_state["spec"]["seq2seq"]["teacher_forcing"] == "exponential"
    ratios = [c for c in _charts(at) if c.get("encoding", {}).get("y", {}).get("field") == "teacher_forcing"]
    assert ratios, "the ratio per epoch is drawn"
    from builder.app import ModelSpec, schedule_frame

    spec = ModelSpec.from_dict(at.session_state["spec"])
    assert spec.seq2seq.tf_k == 0.5
    assert schedule_frame(spec)["teacher_forcing"].tolist() == [1.0]  # one epoch: k ** 0


def test_evaluate_and_export_pages_on_a_trained_run(translate_run: Path, studio_home: Path) -> None:
    shutil.copytree(translate_run, studio_home / "runs" / "run-tr")
    metrics = json.loads((translate_run / "metrics.json").read_text())
    at = make_app("pages/evaluate.py", _seed(SAMPLE, run_id="run-tr"))
    assert not at.exception and not errors(at), errors(at)
    verdicts = [m.value for m in [*at.success, *at.warning] if "Verdict" in m.value]
    assert verdicts == [f"**Verdict:** {metrics['verdict']}"]
    table = at.dataframe[0].value
    assert {"model (greedy)", "model (beam 2)", "baseline: copy the source", "baseline: most frequent target"} <= set(table.index)
    examples = at.dataframe[1].value
    assert list(examples.columns) == ["source", "target", "greedy", "beam"] and len(examples) == 8
    heat = [c for c in _charts(at) if c.get("mark", {}).get("type") == "rect"]
    assert heat and heat[0]["encoding"]["color"]["field"] == "weight"
    by_label(at.selectbox, "Example").set_value(examples["source"].iloc[3]).run()
    assert not at.exception and not errors(at), errors(at)

    ex = make_app("pages/export.py", _seed(SAMPLE, run_id="run-tr"))
    assert not ex.exception and not errors(ex), errors(ex)
    captions = " ".join(c.value for c in ex.caption)
    assert "ONNX (onnxruntime) and LiteRT (.tflite): not offered for this run. task translate:" in captions
    assert "its SavedModel decodes strings" in captions and not [r for r in ex.radio if r.key == "export_format"]
    assert "no plain-Keras code" not in captions and [b for b in ex.button if b.key == "export_code"]
    assert "SavedModel (zip)" in [b.label for b in ex.get("download_button")]
    assert any("signatures[\"translate\"]" in c.value for c in ex.code)

    # new sources translated on the page, greedy and with the beam width chosen there (as `predict --beam`)
    few = pd.read_csv(SAMPLE, dtype=str).head(3)[["source"]].to_csv(index=False).encode()
    ex.file_uploader(key="export_upload").upload("new.csv", few, "text/csv").run()
    assert not ex.exception and not errors(ex), errors(ex)
    greedy = ex.dataframe[-1].value
    assert list(greedy.columns) == ["source", "translation"] and len(greedy) == 3
    ex.number_input(key="export_beam").set_value(3).run()
    assert not ex.exception and not errors(ex), errors(ex)
    from builder.serving.predict import predict_file

    beamed = predict_file(translate_run, few, name="new.csv", options={"beam": 3})
    assert ex.dataframe[-1].value["translation"].tolist() == beamed["translation"].tolist()
