"""The one rule for the forecast's residual base and its lag (builder.tasks.forecast.residual_base /
residual_lag): what each `residual_base` value resolves to, the fallback when the season is unknown or
does not fit the window, and that every reader (the direct head, the autoregressive form's layer, its data
check, the generated code) takes it from there."""

from __future__ import annotations

import pytest

from builder import ModelSpec
from builder.data import load_table
from builder.data.read import DataError
from builder.tasks import prepare_frame
from builder.tasks.base import Resolved
from builder.tasks.forecast import residual_base, residual_lag, season_fits
from tests.conftest import make_series_csv


def _resolved(season: int | None, window: int, better: str | None = None) -> Resolved:
    return Resolved(source="", inputs=("y",), lookback=window, input_length=window, horizon=3, targets=("y",),
                    season_length=season, better_naive=better)


@pytest.mark.parametrize(("base", "season", "window", "better", "expected"), [
    # residual off: no base, lag 0, whatever the data
    (None, 7, 24, "season", (None, 0)),
    ("last", 7, 24, "season", ("last", 1)),
    ("season", 7, 24, None, ("season", 7)),
    ("season", 7, 7, None, ("season", 7)),            # a window of exactly one season holds it
    ("season", 7, 6, None, ("last", 1)),              # fallback: the season does not fit the window
    ("season", None, 24, None, ("last", 1)),          # fallback: the season is unknown
    ("season", 1, 24, None, ("last", 1)),             # fallback: no season
    ("season_drift", 7, 24, None, ("season_drift", 7)),
    ("season_drift", 7, 7, None, ("season", 7)),      # the drift needs one step more: the seasonal base
    ("season_drift", 7, 6, None, ("last", 1)),
    ("season_drift", None, 24, None, ("last", 1)),
    ("auto", 7, 24, "season", ("season", 7)),         # auto: the data's better naive forecast
    ("auto", 7, 24, "last", ("last", 1)),
    ("auto", 7, 24, None, ("last", 1)),               # no better naive known: the last value
    ("auto", 7, 6, "season", ("last", 1)),            # (a stale "season" still needs the season to fit)
])
def test_each_residual_base_and_its_fallback(base, season, window, better, expected):
    spec = ModelSpec(residual=base is not None, residual_base=base or "auto")
    resolved = _resolved(season, window, better)
    assert (residual_base(spec, resolved), residual_lag(spec, resolved)) == expected


@pytest.mark.parametrize("base", ["auto", "last", "season", "season_drift"])
def test_a_spec_alone_knows_no_season(base):
    spec = ModelSpec(residual_base=base)
    assert (residual_base(spec), residual_lag(spec)) == ("last", 1)
    assert (residual_base(spec.updated(residual=False)), residual_lag(spec.updated(residual=False))) == (None, 0)


def test_season_fits():
    assert season_fits("season", 7, 7) and not season_fits("season", 7, 6)
    assert season_fits("season_drift", 7, 8) and not season_fits("season_drift", 7, 7)
    assert not season_fits("season", 1, 24) and not season_fits("season", None, 24)


@pytest.fixture(scope="module")
def series_csv(tmp_path_factory):
    return make_series_csv(tmp_path_factory.mktemp("base") / "s.csv", n=120)


@pytest.mark.parametrize(("base", "lookback"), [("auto", 14), ("last", 14), ("season", 14), ("auto", 5)])
def test_the_prepared_series_and_its_resolved_record_agree(series_csv, base, lookback):
    from builder.tasks.registry import get_task

    spec = ModelSpec(residual_base=base).updated(data={"lookback": lookback, "horizon": 3, "season_length": 7})
    data = prepare_frame(load_table(series_csv), spec)
    resolved = get_task("forecast").resolve(data)
    assert residual_base(spec, data) == residual_base(spec, resolved)
    assert residual_lag(spec, data) == residual_lag(spec, resolved)


def _ar(lookback: int, **top) -> ModelSpec:
    return ModelSpec.from_dict({
        "name": "ar", "task": "forecast", "forecast_form": "autoregressive",
        "data": {"lookback": lookback, "horizon": 3, "season_length": 7, "features": []},
        "blocks": [{"kind": "recurrent", "cell": "gru", "units": 4}], **top})


@pytest.mark.parametrize(("top", "short", "need"), [
    ({"residual_base": "season"}, 8, 9),     # lag 7 (one season): a window of 7 + 2
    ({"residual_base": "last"}, 2, 3),       # lag 1: a window of 1 + 2
    ({"residual_base": "auto"}, 2, 3),       # auto on a window without the season: the last value, lag 1
    ({"residual": False}, 1, 2),             # lag 0: one one-step pair
])
def test_the_autoregressive_check_needs_the_lag_plus_two_steps(series_csv, top, short, need):
    df = load_table(series_csv)
    with pytest.raises(DataError, match=f"change over {need - 2} step\\(s\\) needs a lookback of at least {need}; "
                                        f"found {short}"):
        prepare_frame(df, _ar(short, **top))
    data = prepare_frame(df, _ar(need, **top))
    assert data.lookback == need and residual_lag(_ar(need, **top), data) == need - 2


def test_the_autoregressive_layer_and_generated_code_take_the_lag_from_the_rule(series_csv):
    from builder.model.build import build_model
    from builder.serving.codegen import _build_autoregressive, spec_sizes
    from builder.tasks.registry import get_task

    for top, lag in (({"residual_base": "season"}, 7), ({"residual_base": "last"}, 1), ({"residual": False}, 0)):
        spec = _ar(10, **top)
        resolved = get_task("forecast").resolve(prepare_frame(load_table(series_csv), spec))
        assert build_model(spec, resolved).get_layer("autoregressive").lag == lag
    # from a spec alone (no season known) the code is written with the last value's lag
    code = _build_autoregressive(_ar(10, residual_base="season"), spec_sizes(_ar(10)), "m", ["input_length: int = 10"])
    assert "AutoregressiveForecast(n_targets, horizon, 1, " in code and "change over 1 step(s)" in code
