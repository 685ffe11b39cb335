"""The spec: a validated, JSON-serializable description of a model, its task, data window and training.

    model    ModelSpec and its parts (blocks, DataSettings, TrainingSpec); `SpecError`
    checks   rules that span several fields, one small function each
    presets  presets/*.json and the data directory's saved presets
"""

from builder.spec.model import (
    AttentionBlock,
    Block,
    CellName,
    ConvBlock,
    DataSettings,
    DenseBlock,
    FCNBlock,
    ModelSpec,
    RecurrentBlock,
    Seq2SeqSettings,
    SpecError,
    TrainingSpec,
    format_validation_error,
)

__all__ = [
    "AttentionBlock", "Block", "CellName", "ConvBlock", "DataSettings", "DenseBlock", "FCNBlock", "ModelSpec",
    "RecurrentBlock", "Seq2SeqSettings", "SpecError", "TrainingSpec", "format_validation_error",
]
