"""Serving: what a finished run gives to the outside.

    export   loading a run's model, copying its model.keras, SavedModel and metadata.json, the snippet
    predict  predictions from a finished run on new data (the task's `predict`), formula-safe CSVs
    interop  PyTorch state dicts <-> Keras models of the same recurrent stack
    convert  the run's model as ONNX or LiteRT, checked against the SavedModel
"""
