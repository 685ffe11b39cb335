"""Task `forecast`: a wide time series -> the next `horizon` steps of the target columns.

Data: one row per time step; targets first, then covariates, as the model's inputs. Windows
`x = values[s : s + L]`, `y = values[s + L : s + L + H, :K]` (builder.data.series / windows).
Model head: Dense(H * K) reshaped to [B, H, K] in scaled units, plus the last observed value of each
target when `spec.residual` (the network learns the change from the naive forecast); the served model
appends `Unstandardize`, so it maps raw units to raw units. Baselines: naive and seasonal naive.

Missing target values: training reads the values the missing-value policy filled in, as inputs and as
training targets (filling is what lets every window be read; the validation loss and the residual base's
choice on validation read them too). No score does: a forecast point (window, horizon step, target) whose
actual the file did not have (`SeriesData.observed`: an empty cell, or a time step the file skipped) is
left out of the model's and every baseline's scores alike, of the error by step, of the intervals'
calibration and coverage (`evaluate_forecast`), and of backtests (builder.serving.backtest); the MASE
scale takes only training pairs one season apart whose two values were observed. metrics.json counts
them (`unobserved_points`, and `left_out` with its note), and predictions.csv leaves their actual and
error empty.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from builder.data.read import DataError, load_table
from builder.data.scaler import Scaler
from builder.data.series import (
    SeriesData,
    check_observed,
    future_rows_notice,
    prepare_series,
    prepare_series_with_test,
    read_series,
    split_future_rows,
    time_order,
    trailing_future_rows,
)
from builder.spec import ModelSpec
from builder.tasks.base import Resolved, Task
from builder.tasks.forecast_baselines import (
    mase_scale,
    naive_forecast,
    seasonal_naive_forecast,
)

#: input window when the spec leaves `data.lookback` empty
DEFAULT_LOOKBACK = 24
#: windows per batch when predicting
PREDICT_BATCH = 1024
METRICS = ("mae", "rmse", "smape", "mase")
PARTS = ("train", "val", "test")
#: ETS and Theta are not fitted on series longer than these: an AutoETS fit grows with the rows (24 s at
#: 12,264 rows, bench/RESULTS.md) and statsforecast's Theta filter is quadratic in them (0.25 s per pass
#: at 3,400 rows, and its fit runs many passes)
#: residual bases that read the value one season before each forecast step
SEASONAL_BASES = ("season", "season_drift")
STAT_MAX_ROWS = {"ets": 50_000, "theta": 10_000}


class ForecastTask(Task):
    model_fields = ("forecast_form", "residual", "residual_base", "residual_space")
    evaluate_views = ("forecast", "explain_windows")
    export_views = ("forecast_ahead",)
    keras_metrics = ("mae",)
    refits = True
    ensemble_combine = "median"

    # ---- data ----------------------------------------------------------------------------------------
    @staticmethod
    def lookback(spec: ModelSpec) -> int:
        """The input window: the spec's, else DEFAULT_LOOKBACK."""
        return spec.data.lookback or DEFAULT_LOOKBACK

    def placeholder(self, spec: ModelSpec, n_features: int, n_outputs: int | None = None) -> Resolved:
        targets = tuple(spec.data.targets)
        n_out = int(n_outputs) if n_outputs is not None else max(1, len(targets))
        if len(targets) != n_out:
            targets = tuple(f"x{i}" for i in range(n_out))
        lookback = self.lookback(spec)
        return Resolved(source="", inputs=tuple(f"x{i}" for i in range(n_features)), lookback=lookback,
                        input_length=lookback, horizon=spec.data.horizon, targets=targets)

    def prepare(self, source: Any, spec: ModelSpec, test_source: Any = None, name: str | None = None) -> SeriesData:
        lookback = self.lookback(spec)
        if test_source is None and name is None:
            from builder.data.stream import read_series_file, should_stream

            if should_stream(source):
                return seasonal_window(read_series_file(source, spec, lookback), spec)
        df = load_table(source, name=name)
        if test_source is not None:
            return seasonal_window(prepare_series_with_test(df, load_table(test_source), spec, lookback), spec)
        return seasonal_window(prepare_series(df, spec, lookback), spec)

    def prepare_frame(self, df: pd.DataFrame, spec: ModelSpec) -> SeriesData:
        """Prepare an already loaded table (the Data page's preview)."""
        return seasonal_window(prepare_series(df, spec, self.lookback(spec)), spec)

    def resolve(self, data: SeriesData, source: str | None = None, test_source: str | None = None) -> Resolved:
        n_test = data.n_rows - data.n_train - data.n_val
        return Resolved(
            source=source or data.source, inputs=data.inputs, lookback=data.lookback,
            input_length=data.lookback, horizon=data.horizon, targets=data.targets, time_col=data.time_col, freq=data.freq,
            season_length=data.season_length, last_time=str(data.time[-1]) if data.time is not None else None,
            missing=data.missing, x_scaler=data.x_scaler.to_dict(), y_scaler=data.y_scaler.to_dict(),
            split={"train": data.n_train, "val": data.n_val, "test": n_test},
            windows={p: n_windows(data, p) for p in PARTS}, notices=data.notices,
            test_source=test_source, better_naive=better_naive(data), known_future=data.known_future,
            lead_steps=data.lead_steps,
        )

    def datasets(self, data: SeriesData, spec: ModelSpec) -> tuple[Any, Any | None, int]:
        from builder.data.windows import series_dataset

        t = spec.training
        train = series_dataset(data, "train", t.batch_size, shuffle=True, seed=t.seed, stride=spec.data.stride)
        has_val = n_windows(data, "val") > 0
        lo, hi = data.window_range("train")
        n_items = max(0, -(-(hi - lo) // spec.data.stride))
        return train, series_dataset(data, "val", t.batch_size) if has_val else None, n_items

    def refit_dataset(self, data: SeriesData, spec: ModelSpec) -> tuple[Any, int]:
        """(shuffled train + validation windows, their count) for `training.refit`."""
        from builder.data.windows import series_dataset

        t = spec.training
        lo, hi = data.window_range("train+val")
        return (series_dataset(data, "train+val", t.batch_size, shuffle=True, seed=t.seed, stride=spec.data.stride),
                max(0, -(-(hi - lo) // spec.data.stride)))

    def overview(self, data: SeriesData) -> dict[str, Any]:
        r = self.resolve(data)
        return {"task": self.name, "rows": data.n_rows, **r.split, "features": list(r.inputs),
                "targets": list(r.targets), "lookback": r.lookback, "horizon": r.horizon,
                "season_length": r.season_length, "freq": r.freq, "windows": r.windows, "notices": list(r.notices),
                "n_features": r.n_features, "n_outputs": r.n_outputs, "known_future": list(r.known_future),
                "lead_steps": r.lead_steps}

    def check_cards(self, overview: dict[str, Any]) -> list[dict[str, Any]]:
        ov = overview
        season = ov.get("season_length")
        known, steps = list(ov.get("known_future") or []), int(ov.get("lead_steps") or 0)
        leads = len(known) * steps
        inputs, inputs_help = f"{ov['n_features']}", None
        if known:  # the derived lead columns apart: "3 + 7 known-future"
            inputs = f"{ov['n_features'] - leads} + {leads} known-future"
            inputs_help = (f"{ov['n_features'] - leads} columns of the data, and the next {steps} value(s) of "
                           f"{known} ({known[0]}@+1 … {known[0]}@+{steps}; the horizon and at least one season): "
                           "values known in advance")
        return [
            {"label": "Rows (train / val / test)", "value": f"{ov['train']} / {ov['val']} / {ov['test']}", "help": None},
            {"label": "Training windows", "value": f"{ov['windows']['train']:,}",
             "help": f"Windows of {ov['lookback']} steps, each followed by {ov['horizon']} to forecast."},
            {"label": "Inputs → outputs", "value": f"{inputs} → {ov['n_outputs']} × {ov['horizon']}",
             "help": inputs_help},
            {"label": "Season length", "value": "–" if season is None else str(season),
             "help": f"Detected frequency: {ov.get('freq') or 'unknown'}"},
        ]

    # ---- model -----------------------------------------------------------------------------------------
    def head(self, x: Any, scaled: Any, spec: ModelSpec, resolved: Resolved) -> Any:
        import keras

        from builder.model.layers import AddLastValue, AddSeasonalValue, LogResidual

        h, k = resolved.horizon, resolved.n_outputs
        x = keras.layers.Dense(h * k, name="forecast")(x)
        outputs = keras.layers.Reshape((h, k), name="horizon_by_target")(x)
        base = residual_base(spec, resolved)
        if base is not None and k > resolved.n_features:
            raise ValueError(f"residual forecast needs the {k} targets among the {resolved.n_features} inputs")
        if base is not None and spec.residual_space == "log":
            if resolved.x_scaler is None:
                raise ValueError("a log-space residual needs the input scaler")
            outputs = LogResidual(k, resolved.x_scaler["offset"][:k], resolved.x_scaler["scale"][:k], base=base,
                                  season=int(resolved.season_length or 1), horizon=h, name="log_residual")([scaled, outputs])
        elif base in SEASONAL_BASES:
            outputs = AddSeasonalValue(k, int(resolved.season_length or 1), h, drift=base == "season_drift",
                                       name="add_seasonal_value")([scaled, outputs])
        elif base == "last":
            outputs = AddLastValue(k, name="add_last_value")([scaled, outputs])
        return outputs

    def head_params(self, ch: int, spec: ModelSpec, resolved: Resolved) -> int:
        out = resolved.horizon * resolved.n_outputs
        return ch * out + out

    def head_diagram(self, spec: ModelSpec, resolved: Resolved) -> list[tuple[str, str, str]]:
        h, k = resolved.horizon, resolved.n_outputs
        nodes = [(f"Dense forecast\n{h * k} = horizon {h} × {k} target(s)", "head", f"[batch, {h * k}]"),
                 ("Reshape", "head", f"[batch, {h}, {k}]")]
        base = residual_base(spec, resolved)
        if base == "season":
            nodes.append((f"Add value one season earlier\n(seasonal residual, m={resolved.season_length})", "head",
                          f"[batch, {h}, {k}]"))
        elif base == "season_drift":
            nodes.append((f"Add value one season earlier\n+ last season's change (m={resolved.season_length})", "head",
                          f"[batch, {h}, {k}]"))
        elif base == "last":
            nodes.append(("Add last observed value\n(residual forecast)", "head", f"[batch, {h}, {k}]"))
        if base is not None and spec.residual_space == "log":
            nodes[-1] = (nodes[-1][0].replace("Add ", "Multiply by exp of the change from ", 1).replace("residual", "log residual"),
                         "head", f"[batch, {h}, {k}]")
        nodes.append(("Output: forecasts\n(scaled back to raw units on export)", "io", ""))
        return nodes

    def raw_output(self, model: Any, resolved: Resolved) -> Any:
        import keras

        from builder.model.layers import Unstandardize

        layer = Unstandardize(resolved.n_outputs, name="unstandardize")
        raw = keras.Model(model.input, layer(model.output), name=f"{model.name}_raw")
        y = Scaler.from_dict(resolved.y_scaler) if resolved.y_scaler else None
        if y is not None:
            layer.set_statistics(y.offset_, y.scale_)
        return raw

    def loss(self, spec: ModelSpec) -> str:
        return {"auto": "mse", "mse": "mse", "mae": "mae", "huber": "huber"}[spec.training.loss]

    # ---- evaluation ----------------------------------------------------------------------------------
    def evaluate(self, data: SeriesData, raw_model: Any) -> tuple[dict[str, Any], pd.DataFrame]:
        """Scores on the first non-empty of test, val, train; predictions [N, H, K] through the lazy pipeline."""
        from builder.data.windows import series_dataset

        part = next((p for p in ("test", "val", "train") if n_windows(data, p) > 0), None)
        if part is None:
            raise ValueError(f"{data.source}: no complete window to evaluate")
        preds = np.asarray(raw_model.predict(series_dataset(data, part, PREDICT_BATCH, inputs_only=True), verbose=0))
        metrics, frame = evaluate_forecast(data, preds, part), predictions_frame(data, preds, part)
        return _with_intervals(data, raw_model, part, preds, metrics, frame)

    def metrics_table(self, metrics: dict[str, Any]) -> pd.DataFrame:
        from builder.tasks.forecast_eval import BASELINES, baseline_label

        who = ["model", *[b for b in BASELINES if b in metrics]]
        rows = [{"": "model" if k == "model" else baseline_label(metrics, k),
                 **{c: (metrics.get(k) or {}).get(c) for c in METRICS}} for k in who]
        return pd.DataFrame(rows).set_index("")

    def metric_cards(self, metrics: dict[str, Any]) -> list[dict[str, Any]]:
        """MAE, RMSE, sMAPE and MASE, each with its difference from the best baseline on that metric
        (red when the model is worse than the strongest baseline, not the weakest)."""
        from builder.tasks.forecast_eval import BASELINES, baseline_label

        m = metrics["model"]

        def card(label: str, key: str, help: str = "") -> dict[str, Any]:
            value = m.get(key)
            scored = [(metrics[b][key], b) for b in BASELINES if (metrics.get(b) or {}).get(key) is not None]
            delta = None
            if value is not None and scored:
                ref, name = min(scored)
                delta = f"{value - ref:+.4g} vs {baseline_label(metrics, name, short=True)}"
                help = (help + " " if help else "") + f"Delta: against the best baseline on {label} ({baseline_label(metrics, name)})."
            return {"label": label, "value": _num(value), "lower_is_better": True, "help": help, "delta": delta}

        mase_help = metrics.get("undefined", {}).get(
            "mase", "Below 1: better than a seasonal-naive forecast on the training part.")
        return [card("MAE", "mae"), card("RMSE", "rmse"), card("sMAPE", "smape"), card("MASE", "mase", mase_help)]

    def headline(self, metrics: dict[str, Any]) -> tuple[str, float | None]:
        return "MAE", metrics.get("model", {}).get("mae")

    def result_summary(self, metrics: dict[str, Any]) -> str:
        from builder.tasks.forecast_eval import verdict

        line = metrics.get("verdict") or verdict(metrics)  # runs from before the verdict: computed here
        return (f"Test MAE {metrics['model']['mae']:.4g} vs naive {metrics['naive']['mae']:.4g} "
                f"and seasonal naive {metrics['seasonal_naive']['mae']:.4g}" + (f"; {line}." if line else "."))

    def result_kind(self, metrics: dict[str, Any]) -> str:
        from builder.tasks.forecast_eval import verdict, verdict_kind

        return verdict_kind(metrics.get("verdict") or verdict(metrics))

    def compare_row(self, metrics: dict[str, Any]) -> dict[str, Any]:
        m = metrics
        best = m.get("best_baseline") or {}
        return {"MAE": m["model"]["mae"], "RMSE": m["model"]["rmse"], "sMAPE": m["model"]["smape"],
                "MASE": m["model"]["mase"], "naive MAE": m["naive"]["mae"],
                "seasonal naive MAE": m["seasonal_naive"]["mae"],
                "ETS MAE": (m.get("ets") or {}).get("mae"), "Theta MAE": (m.get("theta") or {}).get("mae"),
                "verdict": m.get("verdict") or "", "best baseline": best.get("label", "")}

    def cli_table(self, metrics: dict[str, Any]) -> str:
        """The CLI's text table of the model beside its baselines, then the verdict."""
        from builder.tasks.forecast_eval import BASELINES, baseline_label, verdict

        def fmt(v: float | None, spec: str, width: int) -> str:
            return f"{v:{width}{spec}}" if v is not None else f"{'n/a':>{width}}"

        rows = [f"{'':34}{'MAE':>12}{'RMSE':>12}{'sMAPE %':>10}{'MASE':>8}"]
        for who in ("model", *[b for b in BASELINES if b in metrics]):
            m = metrics[who]
            label = "model" if who == "model" else baseline_label(metrics, who)
            rows.append(f"{label[:33]:34}{fmt(m['mae'], '.4g', 12)}{fmt(m['rmse'], '.4g', 12)}"
                        f"{fmt(m['smape'], '.2f', 10)}{fmt(m['mase'], '.3f', 8)}")
        rows.append(f"({metrics['n_windows']} {metrics['part']} windows, season length {metrics['season_length']}; "
                    "ETS and Theta fitted on the training part)")
        from builder.tasks.forecast_intervals import interval_label, range_text

        intervals = metrics.get("intervals")
        if intervals:
            covered = [f"{lv}%: " + (f"{rec['coverage']:.1%}" if rec.get("coverage") is not None else "n/a")
                       + (f" (calibrated: {range_text(lv, rec)})" if range_text(lv, rec) else "")
                       for lv, rec in intervals["levels"].items()]
            rows.append(f"interval coverage on the test part ({interval_label(intervals)}): {', '.join(covered)}")
        line = metrics.get("verdict") or verdict(metrics)  # runs from before the verdict: computed here
        if line:
            rows.append(f"verdict: {line}")
        if (metrics.get("left_out") or {}).get("note"):
            rows.append(f"note: {metrics['left_out']['note']}")
        rows += [f"note: {n}" for n in metrics.get("undefined", {}).values()]
        rows += [f"note: {rec['reason']}" for rec in ((metrics.get("intervals") or {}).get("levels") or {}).values()
                 if rec.get("reason")]
        return "\n".join(rows)

    # ---- serving -------------------------------------------------------------------------------------
    def output_meaning(self, resolved: Resolved) -> str:
        return f"[batch, {resolved.horizon}, {resolved.n_outputs}] forecasts of {list(resolved.targets)} in their own units"

    def predict(self, resolved: Resolved, df: pd.DataFrame, model: Any) -> pd.DataFrame:
        """The next `horizon` steps after the end of `df` (which has the run's columns), one row per step.

        With known-future covariates (`resolved.known_future`), `df` ends with at least
        `resolved.lead_steps` rows whose targets are empty and whose known-future columns hold the values
        of the steps ahead.
        """
        source = df.attrs.get("source", "data")
        time_col, targets = resolved.time_col, list(resolved.targets)
        own, known = list(resolved.read_columns), list(resolved.known_future)
        lookback, horizon = int(resolved.lookback), int(resolved.horizon)
        if time_col and time_col not in df.columns:
            raise DataError(f"{source}: time column `{time_col}` (used in training) not found; columns are {list(df.columns)}")
        missing_cols = [c for c in own if c not in df.columns]
        if missing_cols:
            raise DataError(f"{source}: column(s) {missing_cols} used in training are missing; columns are {list(df.columns)}")
        future = None
        notices, n_rows = list(df.attrs.get("notices", [])), len(df)
        order = time_order(df, time_col)  # a newest-first file: the rows after the data are the latest ones
        if known:
            df, future = split_future_rows(df, targets, known, int(resolved.lead_steps), order)
        else:  # rows after the last target value are not filled in as targets (as in training)
            df, _ = trailing_future_rows(df, targets, [], order)
        if len(df) < n_rows:
            notices.append(future_rows_notice(n_rows - len(df), 0 if future is None else len(future), known))
        time, table, freq, read_notices = read_series(df, time_col, own, resolved.missing)
        notices += read_notices
        if resolved.freq and freq and freq != resolved.freq:
            notices.append(f"the data's steps are {freq}, the model was trained on steps of {resolved.freq}: "
                           f"the forecast is of {resolved.freq} steps after the data's end")
        if len(table) < lookback:
            raise DataError(f"{source}: {len(table)} rows are too few; the model needs the last {lookback} rows")
        values = table.to_numpy(dtype=np.float32)
        if known:
            from builder.data.series import append_leads

            values = append_leads(values, own, known, future, int(resolved.lead_steps))
        window = values[-lookback:][None]
        pred = np.asarray(model.predict(window, verbose=0))[0]  # [H, K]
        when = future_times(time[-1], resolved.freq, time, horizon) if time is not None else list(
            range(len(table) + 1, len(table) + horizon + 1))
        out = pd.DataFrame(pred, columns=targets)
        out.insert(0, time_col or "step", when)
        out.attrs["notices"] = notices  # what was assumed reading `df` (the CLI prints them)
        return out

    def with_run_metrics(self, frame: pd.DataFrame, metrics: dict[str, Any]) -> pd.DataFrame:
        """The forecast with `<target>_lower_<level>` / `<target>_upper_<level>` columns: each step's value
        -/+ the conformal radius of that horizon step and target once the run's test outcomes were known
        (metrics["intervals"], raw units); levels without a radius (too few windows) are left out."""
        from builder.tasks.forecast_intervals import interval_columns

        return interval_columns(frame, (metrics or {}).get("intervals"))


def residual_base(spec: ModelSpec, source: Resolved | SeriesData | None = None) -> str | None:
    """The naive forecast the head adds back: "last", "season", "season_drift", or None (no residual).

    The one rule for the residual base, read by the head, the diagram, the generated code, the
    autoregressive form's lag (`residual_lag`) and its data check. `source` is the run's resolved data
    record, the prepared series (before it is resolved), or None (a spec alone, before any data).
    `spec.residual_base` "auto" takes the data's better naive forecast (`better_naive`); a seasonal base
    needs a season > 1 that fits in the input window (`season_fits`; "season_drift": one step more), else
    the next simpler base is used (`prepare` refuses an explicit seasonal base that cannot fit, so that
    falls back only before data).
    """
    return _base_and_lag(spec, source)[0]


def residual_lag(spec: ModelSpec, source: Resolved | SeriesData | None = None) -> int:
    """The steps back of the value the residual base adds: 0 (no residual), 1 (base "last") or the season
    length (a seasonal base): the change the autoregressive form reads per step (`z_t = y_t - y_{t-lag}`).
    `source` as for `residual_base`."""
    return _base_and_lag(spec, source)[1]


def _base_and_lag(spec: ModelSpec, source: Resolved | SeriesData | None) -> tuple[str | None, int]:
    """(`residual_base`, `residual_lag`): the base first as the spec wants it, then its fallback."""
    if not spec.residual:
        return None, 0
    better, m, L = _base_facts(source)
    base = wanted_base(spec, better)
    if base == "season_drift" and season_fits("season_drift", m, L):
        return "season_drift", m
    return ("season", m) if base in SEASONAL_BASES and season_fits("season", m, L) else ("last", 1)


def wanted_base(spec: ModelSpec, better: str | None) -> str:
    """The base the spec asks for before the window is checked: its `residual_base`, or for "auto" the
    data's better naive forecast `better` ("last" when none is known)."""
    return spec.residual_base if spec.residual_base != "auto" else (better or "last")


def season_fits(base: str, season: int | None, window: int | None) -> bool:
    """Whether seasonal base `base` can be read from a window of `window` steps: a season above 1 that the
    window holds ("season_drift" reads one step more: the change over the last season)."""
    m, L = int(season or 1), int(window or 0)
    return m > 1 and m + int(base == "season_drift") <= L


def _base_facts(source: Resolved | SeriesData | None) -> tuple[str | None, int, int]:
    """(better naive forecast, season length, input window) of a resolved record, a prepared series or
    nothing (no season known: 1)."""
    if source is None:
        return None, 1, 0
    if isinstance(source, SeriesData):
        return better_naive(source), int(source.season_length or 1), int(source.lookback or 0)
    return source.better_naive, int(source.season_length or 1), int(source.input_length or 0)


def season_lookback(season: int, n_train: int, horizon: int) -> int:
    """The default input window with a seasonal residual: two seasons and at least DEFAULT_LOOKBACK,
    shortened to what the data allows (without it, the default stays DEFAULT_LOOKBACK).

    At most half of the training rows that can start a window (so that there are at least as many
    training windows as the window is long), but never below one season when that fits.
    """
    want = max(DEFAULT_LOOKBACK, 2 * season) if season > 1 else DEFAULT_LOOKBACK
    room = max(1, (n_train - horizon + 1) // 2)
    if want <= room:
        return want
    if 1 < season <= n_train - horizon:
        return max(season, room)
    return max(1, min(want, n_train - horizon))


def seasonal_window(data: SeriesData, spec: ModelSpec) -> SeriesData:
    """Apply the season-based default lookback when the spec leaves it empty; check a seasonal residual.

    Raises DataError when the spec asks for `residual_base: season` and the window cannot hold a season.
    """
    from dataclasses import replace

    m = data.season_length
    if spec.data.lookback is None:
        lookback = season_lookback(m, data.n_train, data.horizon)
        seasonal = replace(data, lookback=lookback)
        if spec.task == "forecast" and spec.residual and wanted_base(spec, better_naive(seasonal)) in SEASONAL_BASES:
            if lookback == max(DEFAULT_LOOKBACK, 2 * m):  # the window wanted, not shortened
                why = f"two seasons of {m}" if lookback == 2 * m else f"the default, which holds two seasons of {m}"
            else:
                why = (f"one season of {m} or more, as the training part allows" if lookback >= m else
                       "as long as the training part allows")
            why += ", for the seasonal residual"
        else:  # measured: a longer window than the default did not pay without the seasonal base
            lookback, why = data.lookback, "the default"
        data = replace(data, lookback=lookback, notices=(*data.notices, f"lookback {lookback} steps ({why}); "
                                                         "set data.lookback to change it"))
    if (spec.task == "forecast" and spec.residual and spec.residual_base in SEASONAL_BASES
            and not season_fits(spec.residual_base, m, data.lookback)):
        need = "one season plus one step" if spec.residual_base == "season_drift" else "one season"
        raise DataError(f"{data.source}: residual_base `{spec.residual_base}` needs a season length above 1 and a "
                        f"lookback of at least {need}; found season length {m} and lookback {data.lookback} (set "
                        "data.season_length / data.lookback, or residual_base `auto`)")
    if spec.task == "forecast" and spec.forecast_form == "autoregressive":
        check_autoregressive(data, spec)
    if spec.task == "forecast" and spec.residual and spec.residual_space == "log":
        k = len(data.targets)
        bad = ~(data.values[:, :k] > 0) & np.isfinite(data.values[:, :k])
        if bad.any():
            row, col = (int(v) for v in np.argwhere(bad)[0])
            raise DataError(f"{data.source}: residual_space `log` needs every target value above 0; column "
                            f"{data.targets[col]!r} has {float(data.values[row, col]):g} at row {row + 1} of the "
                            f"series ({int(bad.sum())} value(s) <= 0; use residual_space `raw`)")
    if n_windows(data, "test") > 0:  # before training: a test part whose actuals were all filled in scores nothing
        check_observed(data, "test")
    return data


def check_autoregressive(data: SeriesData, spec: ModelSpec) -> None:
    """`forecast_form: autoregressive` reads every input at every forecast step, so every covariate must be
    known in advance, and the window must hold the residual's lag plus two steps (one one-step pair).

    Raises DataError naming the columns or the sizes.
    """
    from builder.data.series import lead_name

    leads = {lead_name(c, j) for c in data.known_future for j in range(1, data.lead_steps + 1)}
    unknown = [c for c in data.inputs[len(data.targets):] if c not in data.known_future and c not in leads]
    if unknown:
        raise DataError(f"{data.source}: forecast_form `autoregressive` reads every input at every forecast step, so "
                        f"each covariate must be known in advance; {unknown} are not in data.known_future (add them "
                        "there with the rows ahead in the file, leave them out of data.features, or use forecast_form "
                        "`direct`)")
    lag = residual_lag(spec, data)
    if data.lookback < lag + 2:
        raise DataError(f"{data.source}: forecast_form `autoregressive` with a change over {lag} step(s) needs a "
                        f"lookback of at least {lag + 2}; found {data.lookback} (set data.lookback)")


def better_naive(data: SeriesData) -> str | None:
    """"season" when the seasonal-naive forecast has a lower MAE than the last value on the validation
    windows (training windows when validation has none), else "last"; None when no season fits the window."""
    m, L, H = data.season_length, data.lookback, data.horizon
    if not 1 < m <= L:
        return None
    part = "val" if n_windows(data, "val") > 0 else "train"
    starts = data.window_starts(part)
    if len(starts) == 0:
        return None
    series = data.target_values.astype(np.float64)
    y = series[starts[:, None] + L + np.arange(H)[None, :]]
    naive = np.nanmean(np.abs(y - naive_forecast(series, starts, L, H)))
    seasonal = np.nanmean(np.abs(y - seasonal_naive_forecast(series, starts, L, H, m)))
    return "season" if seasonal < naive else "last"


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def n_windows(data: SeriesData, part: str) -> int:
    """How many windows one part has (without materialising their start rows)."""
    lo, hi = data.window_range(part)
    return hi - lo


def evaluate_forecast(data: SeriesData, predictions: np.ndarray, part: str = "test") -> dict[str, Any]:
    """Scores of the model and every baseline on one part of `data`.

    predictions: [N, H, K] raw forecasts for `data.window_starts(part)`. Baselines: naive, seasonal
    naive, and ETS and Theta fitted on the training rows only (builder.tasks.forecast_baselines), all
    forecasting the same windows from the same origins. Returns {"part", "n_windows", "season_length",
    "targets": {name: {who: scores}}, "model" / <baseline>: mean over targets, "baselines": how each
    was fitted, "by_step": {"mae" | "mase": {who: [H]}}, "model_mae_by_step", "best_baseline",
    "verdict", "undefined": {metric or baseline: reason}}; a metric that is undefined is None.
    """
    from builder.data.windows import series_targets
    from builder.tasks.forecast_baselines import origins_of, stat_baseline_forecasts
    from builder.tasks.forecast_eval import BASELINES, best_baseline, score_candidates, verdict

    starts = data.window_starts(part)
    y = series_targets(data, part)
    check_observed(data, part)
    observed = data.observed_windows(part)  # None: every actual observed
    series = data.target_values.astype(np.float64)
    L, H, m = data.lookback, data.horizon, data.season_length
    candidates = {
        "model": predictions.astype(np.float64),
        "naive": naive_forecast(series, starts, L, H),
        "seasonal_naive": seasonal_naive_forecast(series, starts, L, H, m),
    }
    undefined: dict[str, str] = {}
    baselines: dict[str, Any] = {"naive": {"fit_part": None}, "seasonal_naive": {"fit_part": None, "season_length": int(m)}}
    skipped = [name for name, limit in STAT_MAX_ROWS.items() if len(series) > limit]
    for name in skipped:
        undefined[name] = (f"{name.upper() if name == 'ets' else 'Theta'} is not fitted on series longer than "
                           f"{STAT_MAX_ROWS[name]:,} rows (this one has {len(series):,})")
    if len(skipped) < len(STAT_MAX_ROWS):
        fits = stat_baseline_forecasts(series, data.n_train, origins_of(starts, L), H, m, skip=tuple(skipped))
        for name, fitted in fits.items():
            baselines[name] = {"fit_part": "train", "fit_rows": int(data.n_train), "method": fitted["method"],
                               "fit_seconds": fitted["fit_seconds"]}
            if fitted["forecast"] is None:
                undefined[name] = fitted["reason"]
            else:
                candidates[name] = fitted["forecast"]
    scales = mase_scale(series[: data.n_train], m, None if data.observed is None else data.observed[: data.n_train])
    per_target, summary, by_step = score_candidates(y, candidates, data.targets, scales, observed)
    flat = [t for t, s in zip(data.targets, scales, strict=True) if not s > 0]
    unpaired = [t for t, s in zip(data.targets, scales, strict=True) if np.isnan(s)]
    if unpaired and data.observed is not None and data.n_train > m:
        undefined["mase"] = (f"MASE is undefined: the training part of {unpaired} has no two observed values one "
                             f"season ({m} steps) apart (the others were filled in), so there is no scale to divide by")
    elif flat:
        undefined["mase"] = (f"MASE is undefined: the seasonal-naive error on the training part of {flat} is 0 "
                             "(a constant or exactly seasonal series), so there is no scale to divide by")
    for name in BASELINES:
        summary.setdefault(name, dict.fromkeys(METRICS))
    metrics = {
        "task": "forecast", "part": part, "n_windows": int(len(starts)), "season_length": int(m),
        "lookback": int(L), "horizon": int(H), **summary, "targets": per_target, "baselines": baselines, "by_step": by_step,
        "model_mae_by_step": by_step["mae"]["model"], "undefined": undefined,
        "unobserved_points": 0 if observed is None else int((~observed).sum()),
    }
    if observed is not None:
        metrics["left_out"] = left_out_record(data, part, observed)
    metrics["best_baseline"] = best_baseline(metrics)
    metrics["verdict"] = verdict(metrics)
    return metrics


def left_out_record(data: SeriesData, part: str, observed: np.ndarray, what: str | None = None) -> dict[str, Any]:
    """{"points", "by_target", "note"}: the forecast points (window, horizon step, target) of one part whose
    actual was filled in, left out of every score; observed [N, H, K] bool. `what`: how the note names
    the points (default "<part> point(s)")."""
    missing = {t: int((~observed[:, :, k]).sum()) for k, t in enumerate(data.targets)}
    missing = {t: n for t, n in missing.items() if n}
    total = sum(missing.values())
    names = list(missing)
    whose = (f"whose actual {names[0]} was filled in" if len(names) == 1 else
             "whose actual was filled in (" + ", ".join(f"{t}: {n}" for t, n in missing.items()) + ")")
    note = (f"{total} {what or f'{part} point(s)'} {whose} (missing in {data.part_source(part)}) are left out of "
            "every score")
    return {"points": total, "by_target": missing, "note": note}


def _with_intervals(data: SeriesData, raw_model: Any, part: str, preds: np.ndarray, metrics: dict[str, Any],
                    frame: pd.DataFrame) -> tuple[dict[str, Any], pd.DataFrame]:
    """Conformal intervals calibrated on the validation windows and recalibrated at each test origin on
    the residuals observed by then (builder.tasks.forecast_intervals): metrics["intervals"] with the
    test part's coverage and the radius for forecasts after the data, lower_/upper_<level> columns in
    the frame."""
    from builder.data.windows import series_dataset, series_targets
    from builder.tasks.forecast_intervals import add_interval_columns, conformal_intervals

    if part != "test" or n_windows(data, "val") == 0:
        metrics["intervals"] = None
        metrics["undefined"]["intervals"] = ("no prediction intervals: they are calibrated on the validation part "
                                             "and scored on the test part, and this run lacks one of them")
        return metrics, frame
    val = np.asarray(raw_model.predict(series_dataset(data, "val", PREDICT_BATCH, inputs_only=True), verbose=0))
    record, radii = conformal_intervals(series_targets(data, "val"), val, series_targets(data, part), preds,
                                        starts=data.window_starts(part), observed_cal=data.observed_windows("val"),
                                        observed=data.observed_windows(part))
    metrics["intervals"] = record
    return metrics, add_interval_columns(frame, radii, data.targets)


def predictions_frame(data: SeriesData, preds: np.ndarray, part: str) -> pd.DataFrame:
    """Long format, one row per window, step and target: time, step, target, actual, predicted, error.

    An actual the file did not have (filled in by the missing-value policy) is left empty, and its error too.
    """
    from builder.data.windows import series_targets

    y = series_targets(data, part)
    observed = data.observed_windows(part)
    if observed is not None:
        y = np.where(observed, y, np.nan)
    starts = data.window_starts(part)
    rows = []
    for h in range(data.horizon):
        idx = starts + data.lookback + h
        when = data.time[idx] if data.time is not None else idx
        for k, target in enumerate(data.targets):
            rows.append(pd.DataFrame({"time": when, "step": h + 1, "target": target, "actual": y[:, h, k],
                                      "predicted": preds[:, h, k]}))
    frame = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["time", "step", "target", "actual", "predicted"])
    frame["error"] = frame["actual"] - frame["predicted"]
    return frame


def future_times(last: pd.Timestamp, freq: str | None, index: pd.DatetimeIndex | None, steps: int) -> list[Any]:
    """`steps` timestamps after `last`: at `freq`, else at the median spacing of `index`."""
    if freq:
        try:
            return list(pd.date_range(last, periods=steps + 1, freq=freq)[1:])
        except (ValueError, TypeError):
            pass
    if index is not None and len(index) > 1:
        step = pd.Timedelta(np.median(np.diff(index.asi8)), unit="ns")
        return [last + step * (k + 1) for k in range(steps)]
    return list(range(1, steps + 1))
