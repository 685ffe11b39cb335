"""Design and Train pages: the forecast head's settings (residual base), fit options, classify augmentation."""

from __future__ import annotations

from tests.app.conftest import make_app, seeded, tiny_spec


def test_residual_base_choice_is_stored_and_hidden_without_residual(tiny_csv) -> None:
    at = make_app("pages/design.py", seeded(tiny_csv))
    assert at.selectbox(key="m0_residual_base").value == "auto"
    at.selectbox(key="m0_residual_base").set_value("season").run()
    assert not at.exception
    assert at.session_state["spec"]["residual_base"] == "season"
    at.toggle(key="m0_residual").set_value(False).run()
    assert at.session_state["spec"]["residual"] is False
    assert not [s for s in at.selectbox if s.key == "m0_residual_base"]


def test_refit_toggle_on_the_train_page(tiny_csv) -> None:
    at = make_app("pages/train.py", seeded(tiny_csv))
    assert at.toggle(key="t0_refit").value is False
    at.toggle(key="t0_refit").set_value(True).run()
    assert not at.exception
    assert at.session_state["spec"]["training"]["refit"] is True


def test_residual_space_and_fit_options_are_stored(tiny_csv) -> None:
    at = make_app("pages/design.py", seeded(tiny_csv))
    assert at.selectbox(key="m0_residual_space").value == "raw"
    at.selectbox(key="m0_residual_space").set_value("log").run()
    assert not at.exception and at.session_state["spec"]["residual_space"] == "log"
    at = make_app("pages/train.py", seeded(tiny_csv))
    at.number_input(key="t0_min_steps").set_value(20).run()
    at.number_input(key="t0_ensemble").set_value(5).run()
    assert not at.exception
    training = at.session_state["spec"]["training"]
    assert training["min_steps_per_epoch"] == 20 and training["ensemble"] == 5


def test_augmentation_fields_on_the_train_page_for_classify_only(tiny_csv) -> None:
    at = make_app("pages/train.py", seeded(tiny_csv))
    assert not [w for w in at.number_input if w.key == "t0_jitter"]  # forecast: no augmentation
    spec = {**tiny_spec(), "task": "classify"}
    at = make_app("pages/train.py", {**seeded(tiny_csv), "spec": spec})
    assert not at.exception
    at.number_input(key="t0_jitter").set_value(0.1).run()
    at.number_input(key="t0_scaling").set_value(0.2).run()
    assert not at.exception
    training = at.session_state["spec"]["training"]
    assert training["augment_jitter"] == 0.1 and training["augment_scaling"] == 0.2
    at.number_input(key="t0_jitter").set_value(0.0).run()
    assert at.session_state["spec"]["training"]["augment_jitter"] is None


def test_forecast_form_choice_is_stored_and_a_block_it_cannot_run_is_named(tiny_csv) -> None:
    at = make_app("pages/design.py", seeded(tiny_csv))
    assert at.selectbox(key="m0_forecast_form").value == "direct"
    at.selectbox(key="m0_forecast_form").set_value("autoregressive").run()
    assert not at.exception and not at.error
    assert at.session_state["spec"]["forecast_form"] == "autoregressive"
    spec = {**tiny_spec(), "blocks": [{"kind": "conv", "filters": 4}, {"kind": "recurrent", "units": 8}]}
    at = make_app("pages/design.py", {**seeded(tiny_csv), "spec": spec})
    at.selectbox(key="m0_forecast_form").set_value("autoregressive").run()
    assert not at.exception
    assert any("recurrent and dense blocks only" in e.value for e in at.error)
    assert at.session_state["spec"]["forecast_form"] == "direct"  # the stored spec stays a valid one
