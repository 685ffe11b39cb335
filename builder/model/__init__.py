"""The model: spec + resolved data record -> keras.Model, and everything that knows its layers.

    build      the one place where a model's layers are made (functional API)
    layers     small registered layers: Standardize, Unstandardize, AttentionPooling, AddLastValue
    cells/     the builder's recurrent cells and the cell registry (cells/registry.py)
    recurrent  Fused* recurrent layers: Keras's RNN layers with the fused loop of `fused`
    fused      whole-sequence recurrences with a hand-written backward pass, per cell family
    size       the weight count of a spec, from the registry's formulas, without Keras
    diagram    spec -> Graphviz DOT text, without Keras

This package's __init__ imports nothing, so `builder.model.cells.registry` stays light.
"""
