"""Serving: what a finished run gives to the outside.

    export   model.keras, the SavedModel (raw units in and out) and metadata.json; copies of a run
    predict  predictions from a finished run on new data (the task's `predict`), formula-safe CSVs
    interop  PyTorch state dicts <-> Keras models of the same recurrent stack
"""
