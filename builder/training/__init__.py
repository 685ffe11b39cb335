"""Training: fitting a spec's model into a run directory, and the run directory's life cycle.

    fit        compile and fit with our callbacks (progress, best weights, early stopping, NaN and user
               stop, checkpoints); `train_run`: the whole pipeline from a CSV to a finished run
    runs       the run directory: spec, status, history, stop requests, metadata; training slots
    artifacts  model.keras, the SavedModel (raw units in and out) and metadata.json of a trained run
    worker     one training job in its own process (what the UI starts)
"""
