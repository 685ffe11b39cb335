"""Data: reading files, column roles, series and sequences, scalers, lazy tf.data windows.

    read       CSV -> DataFrame (encoding, dialect, size limits); `DataError`
    columns    time / numeric column detection, per-cell number checks, column roles
    scaler     `Scaler`: per-column affine scaling, fit on the training part (sklearn contract)
    series     wide time series: time axis, missing values, chronological split -> `SeriesData`
    sequences  long-format labelled sequences: grouped, NaN-padded, stratified split -> `SequenceData`
    stream     large series files read in chunks with bounded memory
    windows    tf.data pipelines over prepared data (TensorFlow imported inside the functions)

Which of these a task uses, and how, is the task's business (builder.tasks).
"""

from builder.data.columns import (
    detect_time_column,
    numeric_columns,
    resolve_sequence_columns,
    resolve_series_columns,
)
from builder.data.read import DataError, Source, load_table
from builder.data.scaler import Scaler
from builder.data.sequences import SequenceData
from builder.data.series import SeriesData

__all__ = [
    "DataError", "Scaler", "SequenceData", "SeriesData", "Source", "detect_time_column", "load_table",
    "numeric_columns", "resolve_sequence_columns", "resolve_series_columns",
]
