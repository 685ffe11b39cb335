"""The pages' one door into the library: plain helpers behind the Streamlit pages, split by page.

    session   the session's defaults, sample files, uploads, the task a table looks like, previews
    charts    Altair charts: fitted axes, distinct colours, dates by frequency, nothing drawn for no data
    design    editor fields from the spec's schema, block edits, presets, the diagram, the model's size
    runs      new run directories, the session's run, run tables, progress, starting a worker
    text      text tasks (generate): text files, their overview, per-epoch samples, generation
    results   metric tables, held-out predictions, chart frames, downloads, predictions on new data
    workspace the session's work on disk (data, spec, run) under an id in the URL
    form      the Data page's widgets from the task's registry entry: options, starting values, changes

Pages import only from `builder.app` (a test checks it); nothing here imports streamlit, and
TensorFlow is imported only inside the functions that need it.
"""

from builder.app.charts import (
    PALETTE,
    bar_counts,
    blank_missing,
    class_counts,
    confusion_chart,
    depth_bars,
    display_dates,
    interval_chart,
    loss_chart,
    series_chart,
    step_error_chart,
    training_hint,
)
from builder.app.charts import column_config as table_columns
from builder.app.convert import (  # Export: ONNX, LiteRT; Design: code
    CONVERT_FORMATS,
    code_for_download,
    contract_lines,
    convert_for_download,
    export_options,
    import_torch_upload,
    spec_code,
)
from builder.app.design import (
    BLOCK_CLASSES,
    BLOCK_LABELS,
    CELL_LABELS,
    FIELD_LABELS,
    apply_preset,
    block_title,
    cell_options,
    default_lookback,
    default_proj_units,
    diagram_dot,
    display_name,
    field_specs,
    insert_block,
    is_projected,
    model_facts,
    model_shape,
    model_size,
    move_block,
    new_block,
    parse_spec_upload,
    presets_for,
    remove_block,
    run_model_size,
    sized_for_data,
    switch_task,
    task_default,
    validate,
)
from builder.app.explain import explain_on, run_table  # Evaluate: explanation heat map
from builder.app.forecast_results import (
    backtest_view,
    coverage_frame,
    error_by_step_frame,
    forecast_verdict,
    interval_levels,
)
from builder.app.results import (
    compare_table,
    confusion_frame,
    csv_bytes,
    forecast_band_frame,
    forecast_with_history,
    load_model,
    metric_cards,
    metrics_table,
    misclassified_frame,
    per_class_frame,
    predict_on,
    predict_upload,
    run_data_path,
    serving_snippet,
    test_predictions,
    zip_dir_bytes,
)
from builder.app.runs import (
    ACTIVE_STATES,
    best_val,
    current_run,
    finished_runs,
    format_seconds,
    headline_metric,
    history_frame,
    keep_warm,
    new_run_dir,
    progress_view,
    run_by_id,
    run_choices,
    run_label,
    runs_table,
    set_run_label,
    slug,
    start_training,
)
from builder.app.session import (
    chart_frame,
    column_summary,
    data_overview,
    default_source,
    default_spec,
    file_token,
    guess_task,
    sample_files,
    save_upload,
    session_defaults,
    text_columns_for,
    to_datetime,
)
from builder.app.step_labels import (
    label_strip_chart,
    label_strips,
    sequence_strips,
    step_label_counts,
    step_predictions,
)
from builder.app.text import (
    generate_in_app,
    generate_notices,
    is_text_source,
    latest_samples,
    printable,
    task_predict_options,
    task_reads_text,
    text_overview,
    text_preview,
)
from builder.app.translate import (  # task translate: verdict, examples, attention, schedule
    attention_chart,
    attention_of,
    pair_examples,
    schedule_chart,
    schedule_frame,
    scores_chart,
    translate_examples,
    translate_scores,
    translate_verdict,
)
from builder.app.trees import depth_frame, tree_columns, tree_dot, tree_ids
from builder.app.workspace import PARAM as WORKSPACE_PARAM
from builder.app.workspace import new_id as new_workspace_id
from builder.app.workspace import restore as restore_workspace
from builder.app.workspace import save as save_workspace
from builder.app.workspace import snapshot as workspace_snapshot
from builder.data import DataError, detect_time_column, load_table, numeric_columns, resolve_sequence_columns
from builder.paths import subdir
from builder.spec import ModelSpec, SpecError
from builder.spec.presets import list_presets, load_preset, save_preset
from builder.tasks.forecast_intervals import interval_label  # how a run's intervals were calibrated
from builder.tasks.registry import TASKS
from builder.training.runs import Run

__all__ = [
    "label_strip_chart", "label_strips", "sequence_strips", "step_label_counts", "step_predictions",
    "ACTIVE_STATES", "BLOCK_CLASSES", "BLOCK_LABELS", "CELL_LABELS", "cell_options", "FIELD_LABELS", "TASKS", "DataError",
    "ModelSpec", "Run", "SpecError", "apply_preset", "best_val", "block_title", "chart_frame", "column_summary",
    "compare_table", "confusion_frame", "csv_bytes", "current_run", "data_overview", "text_columns_for", "default_lookback", "default_proj_units",
    "default_source", "default_spec", "detect_time_column", "diagram_dot", "field_specs", "file_token",
    "finished_runs", "forecast_band_frame", "forecast_with_history", "format_seconds", "guess_task", "headline_metric",
    "history_frame", "insert_block", "is_projected", "list_presets", "load_model", "load_preset",
    "load_table", "metric_cards", "metrics_table", "misclassified_frame", "per_class_frame", "model_facts", "model_shape", "move_block", "new_block", "new_run_dir",
    "numeric_columns", "parse_spec_upload", "predict_on", "predict_upload", "progress_view",
    "remove_block", "resolve_sequence_columns", "run_by_id", "run_data_path", "runs_table", "sample_files",
    "save_preset", "save_upload", "serving_snippet", "session_defaults", "slug", "start_training",
    "subdir", "switch_task", "test_predictions", "to_datetime", "validate", "zip_dir_bytes",
    "depth_frame", "tree_columns", "tree_dot", "tree_ids",
    # text tasks (builder.app.text)
    "generate_in_app", "generate_notices", "is_text_source", "latest_samples", "printable", "task_predict_options", "task_reads_text", "text_overview",
    "text_preview",
]
__all__ += ["backtest_view", "coverage_frame", "error_by_step_frame", "forecast_verdict", "interval_label",
            "interval_levels"]  # forecast evaluation (builder.app.forecast_results)
__all__ += ["PALETTE", "display_dates", "confusion_chart", "interval_chart", "step_error_chart"]
__all__ += ["run_choices", "run_label", "set_run_label", "bar_counts", "depth_bars", "class_counts", "loss_chart", "series_chart", "blank_missing", "table_columns", "training_hint",
            "display_name", "model_size", "sized_for_data", "presets_for", "run_model_size", "task_default", "keep_warm", "WORKSPACE_PARAM", "new_workspace_id", "restore_workspace", "save_workspace", "workspace_snapshot"]
__all__ += ["CONVERT_FORMATS", "code_for_download", "contract_lines", "export_options", "convert_for_download", "spec_code", "explain_on", "run_table", "import_torch_upload"]
from builder.app.form import (  # noqa: E402  Data page: the task's form, drawn from its registry entry
    check_cards,
    cleared_columns,
    field_options,
    form_changes,
    form_defaults,
    new_file_data,
    tasks_reading,
)

__all__ += ["check_cards", "cleared_columns", "field_options", "form_changes", "form_defaults", "new_file_data",
            "tasks_reading"]
from builder.app.known_future import (  # noqa: E402  Export: forecasting a known-future run after its data
    future_rows,
    future_steps,
    history_part,
    known_future_of,
    with_future_rows,
)

__all__ += ["future_rows", "future_steps", "history_part", "known_future_of", "with_future_rows"]
from builder.app.results import (  # noqa: E402  Train, Evaluate, Export: the task says what to show
    evaluate_views,
    export_views,
    result_kind,
    result_summary,
    task_augments,
    task_ensembles,
    task_model_fields,
    task_refits,
)

__all__ += ["attention_chart", "attention_of", "pair_examples", "schedule_chart", "schedule_frame",
            "scores_chart", "translate_examples", "translate_scores", "translate_verdict"]
__all__ += ["evaluate_views", "export_views", "result_kind", "result_summary", "task_augments", "task_ensembles", "task_model_fields", "task_refits"]
