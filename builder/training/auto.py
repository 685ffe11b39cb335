"""Auto mode for forecasting: a small Optuna search within a time budget, then the winner as a normal run.

Why Optuna (over KerasTuner): it is framework-free (the objective is our own `fit`, so every trial
follows the run contract's data preparation, scalers and early stopping instead of a tuner's own fit
loop), it prunes unpromising trials from the per-epoch validation loss (median pruner), it stops at a
wall-clock `timeout`, and it is already in the lock.

The space: the forecast presets, the lookback (in seasons, or the default window), units of every
recurrent block, and the learning rate. Trials are compared by their best validation loss (the
training loss on the scaled targets: the same validation windows and scaler for every trial, since a
window belongs to the part that holds its targets, whatever the lookback). The naive and
seasonal-naive forecasts' loss on those windows stand beside them in the leaderboard. The test part
is never read by the search. The winner is trained again by `train_run`, as any run, and the
leaderboard is written into its run directory as `auto.json`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from builder.files import finite_or_none
from builder.spec import ModelSpec
from builder.tasks.registry import get_task

#: the presets the search draws from (forecast presets of presets/)
PRESETS = ("stacked_lstm", "deep_gru", "lstmp", "simple_rnn_baseline")
UNITS = (16, 32, 64, 128)
#: lookback choices: 0 = the default window, k > 0 = k seasons (at least 8 steps)
LOOKBACK_SEASONS = (0, 1, 2, 3)
LR_RANGE = (3e-4, 3e-3)
#: fewest complete trials wanted; the budget may allow fewer (then the best so far wins)
MIN_EPOCHS_PER_TRIAL = 3


class AutoError(ValueError):
    """Bad input to the search (a budget that is not positive ...); the message names the value."""


def check_budget(budget_s: float) -> float:
    if not budget_s > 0:
        raise AutoError(f"--budget-s {budget_s:g}: expected a positive number of seconds for the search")
    return float(budget_s)


def trial_spec(base: ModelSpec, preset: str, lookback_seasons: int, units: int, lr: float, season: int,
               load: Callable[[str], ModelSpec]) -> ModelSpec:
    """The spec of one trial: `preset`'s blocks with every recurrent block at `units`, on `base`'s data."""
    spec = load(preset)
    blocks = []
    for b in spec.model_dump()["blocks"]:
        if b["kind"] == "recurrent":
            b["units"] = units
            if b.get("proj_units") is not None:
                b["proj_units"] = max(1, units // 2)
        blocks.append(b)
    data = base.data.model_dump()
    if lookback_seasons and season > 1:
        data["lookback"] = max(8, lookback_seasons * season)
    training = {**base.training.model_dump(), "learning_rate": lr}
    return ModelSpec.from_dict({**base.model_dump(), "name": f"auto {preset}", "blocks": blocks, "data": data,
                                "training": training})


def baseline_losses(data: Any) -> dict[str, float | None]:
    """MSE of the naive and seasonal-naive forecasts on the validation windows, in scaled target units."""
    from builder.data.scaler import Scaler
    from builder.tasks.forecast_baselines import naive_forecast, seasonal_naive_forecast

    part = "val" if data.window_range("val")[1] > data.window_range("val")[0] else "train"
    starts = data.window_starts(part)
    if len(starts) == 0:
        return {"naive": None, "seasonal_naive": None}
    series = data.target_values.astype(np.float64)
    L, H = data.lookback, data.horizon
    y = series[starts[:, None] + L + np.arange(H)[None, :]]
    scaler = Scaler.from_dict(data.y_scaler.to_dict())
    scale = np.where(np.asarray(scaler.scale_) == 0, 1.0, np.asarray(scaler.scale_))

    def mse(pred: np.ndarray) -> float | None:
        return finite_or_none(np.nanmean(((y - pred) / scale) ** 2))

    return {"naive": mse(naive_forecast(series, starts, L, H)),
            "seasonal_naive": mse(seasonal_naive_forecast(series, starts, L, H, data.season_length))}


def search(base: ModelSpec, data_path: str | Path, budget_s: float, seed: int = 0,
           log: Callable[[str], None] | None = None, max_trials: int | None = None,
           test_path: str | Path | None = None) -> dict[str, Any]:
    """Run the search for at most `budget_s` seconds; returns {"best_spec", "leaderboard", "baselines", ...}.

    `test_path`: the run's separate test file (only so that the split matches the final run's; its rows
    are never scored here).

    Raises AutoError for a budget <= 0, DataError for data the base spec cannot use.
    """
    import optuna

    from builder.spec.presets import load_preset
    from builder.training.fit import TrainingError, fit

    budget_s = check_budget(budget_s)
    if base.task != "forecast":
        raise AutoError(f"--preset auto: the search is for forecasts; got task {base.task!r}")
    task = get_task("forecast")
    test = str(test_path) if test_path else None
    first = task.prepare(str(data_path), base, test)
    season = first.season_length
    cache: dict[int, Any] = {first.lookback: first}
    baselines = baseline_losses(first)
    say = log or (lambda _msg: None)
    deadline = time.monotonic() + budget_s
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=MIN_EPOCHS_PER_TRIAL))

    def objective(trial: optuna.Trial) -> float:
        spec = trial_spec(base, trial.suggest_categorical("preset", list(PRESETS)),
                          trial.suggest_categorical("lookback_seasons", list(LOOKBACK_SEASONS)),
                          trial.suggest_categorical("units", list(UNITS)),
                          trial.suggest_float("learning_rate", *LR_RANGE, log=True), season, load_preset)
        L = spec.data.lookback or first.lookback
        if L not in cache:
            cache[L] = task.prepare(str(data_path), spec, test)
        data = cache[L]
        trial.set_user_attr("lookback", int(data.lookback))

        def progress(epoch: int, batch: int | None, logs: dict[str, Any]) -> None:
            if batch is not None:
                if time.monotonic() > deadline:  # out of time: stop this trial, keep what is finished
                    raise optuna.TrialPruned("budget spent")
                return
            value = logs.get("val_loss", logs.get("loss"))
            if value is not None and np.isfinite(value):
                trial.report(float(value), epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at epoch {epoch + 1}")

        t0 = time.monotonic()
        try:
            result = fit(spec, data, progress=progress)
        except TrainingError as err:
            raise optuna.TrialPruned(str(err)) from None
        trial.set_user_attr("seconds", round(time.monotonic() - t0, 2))
        trial.set_user_attr("best_epoch", int(result.best_epoch))
        values = [h.get("val_loss", h.get("loss")) for h in result.history]
        best = min((v for v in values if v is not None and np.isfinite(v)), default=float("inf"))
        say(f"trial {trial.number}: {trial.params} -> validation loss {best:.4g}")
        return best

    study.optimize(objective, timeout=budget_s, n_trials=max_trials, catch=())
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        raise AutoError(f"--budget-s {budget_s:g}: no trial finished within the budget; give the search more "
                        "seconds (one default training of this data takes longer)")
    best = study.best_trial
    board = [{"trial": t.number, **t.params, "lookback": t.user_attrs.get("lookback"),
              "val_loss": finite_or_none(t.value) if t.value is not None else None,
              "state": t.state.name.lower(), "seconds": t.user_attrs.get("seconds")} for t in study.trials]
    board.sort(key=lambda r: (r["val_loss"] is None, r["val_loss"] if r["val_loss"] is not None else 0.0))
    best_spec = trial_spec(base, best.params["preset"], best.params["lookback_seasons"], best.params["units"],
                           best.params["learning_rate"], season, load_preset).updated(name="auto")
    return {"best_spec": best_spec, "best_trial": best.number, "leaderboard": board, "baselines": baselines,
            "budget_s": budget_s, "trials": len(study.trials), "complete": len(done)}


def leaderboard_text(found: dict[str, Any]) -> str:
    """The leaderboard as a text table, the baselines' validation loss last."""
    rows = [f"{'trial':>5}  {'preset':22}{'lookback':>9}{'units':>6}{'lr':>9}{'val loss':>11}  state"]
    for r in found["leaderboard"]:
        loss = f"{r['val_loss']:11.4g}" if r["val_loss"] is not None else f"{'–':>11}"
        rows.append(f"{r['trial']:>5}  {r['preset']:22}{r['lookback'] or '':>9}{r['units']:>6}"
                    f"{r['learning_rate']:9.2e}{loss}  {r['state']}")
    for name, value in found["baselines"].items():
        rows.append(f"{'':>5}  {name:22}{'':>9}{'':>6}{'':>9}{value if value is None else format(value, '11.4g'):>11}  baseline")
    return "\n".join(rows)
