"""The pages' one door into the library: plain helpers behind the Streamlit pages, split by page.

    session   the session's defaults, sample files, uploads, the task a table looks like, previews
    design    editor fields from the spec's schema, block edits, presets, the diagram, the model's size
    runs      new run directories, the session's run, run tables, progress, starting a worker
    results   metric tables, held-out predictions, chart frames, downloads, predictions on new data

Pages import only from `builder.app` (a test checks it); nothing here imports streamlit, and
TensorFlow is imported only inside the functions that need it.
"""

from builder.app.convert import (  # Export: ONNX, LiteRT; Design: code
    CONVERT_FORMATS,
    convert_for_download,
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
    default_lookback,
    default_proj_units,
    diagram_dot,
    field_specs,
    insert_block,
    is_projected,
    model_facts,
    model_shape,
    move_block,
    new_block,
    parse_spec_upload,
    remove_block,
    switch_task,
    validate,
)
from builder.app.explain import explain_on  # Evaluate: explanation heat map
from builder.app.results import (
    compare_table,
    confusion_frame,
    csv_bytes,
    forecast_with_history,
    load_model,
    metric_cards,
    metrics_table,
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
    new_run_dir,
    progress_view,
    run_by_id,
    runs_table,
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
    to_datetime,
)
from builder.data import DataError, detect_time_column, load_table, numeric_columns, resolve_sequence_columns
from builder.paths import subdir
from builder.spec import ModelSpec, SpecError
from builder.spec.presets import list_presets, load_preset, save_preset
from builder.tasks.registry import TASKS
from builder.training.runs import Run

__all__ = [
    "ACTIVE_STATES", "BLOCK_CLASSES", "BLOCK_LABELS", "CELL_LABELS", "FIELD_LABELS", "TASKS", "DataError",
    "ModelSpec", "Run", "SpecError", "apply_preset", "best_val", "block_title", "chart_frame", "column_summary",
    "compare_table", "confusion_frame", "csv_bytes", "current_run", "data_overview", "default_lookback", "default_proj_units",
    "default_source", "default_spec", "detect_time_column", "diagram_dot", "field_specs", "file_token",
    "finished_runs", "forecast_with_history", "format_seconds", "guess_task", "headline_metric",
    "history_frame", "insert_block", "is_projected", "list_presets", "load_model", "load_preset",
    "load_table", "metric_cards", "metrics_table", "model_facts", "model_shape", "move_block", "new_block", "new_run_dir",
    "numeric_columns", "parse_spec_upload", "predict_on", "predict_upload", "progress_view",
    "remove_block", "resolve_sequence_columns", "run_by_id", "run_data_path", "runs_table", "sample_files",
    "save_preset", "save_upload", "serving_snippet", "session_defaults", "slug", "start_training",
    "subdir", "switch_task", "test_predictions", "to_datetime", "validate", "zip_dir_bytes",
]
__all__ += ["CONVERT_FORMATS", "convert_for_download", "spec_code", "explain_on", "import_torch_upload"]
