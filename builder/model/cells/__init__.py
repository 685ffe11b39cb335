"""Recurrent cells for ``keras.layers.RNN`` and their registry (`builder.model.cells.registry`).

The builder cells (LSTMP, peephole, CIFG, projected GRU) live one per module and share
``base.GatedCell``; every cell, builtin or ours, has one entry in ``registry.CELLS``. This package
imports no module of its own, so the registry stays cheap to import; load a class through
``get_cell(name).cell_class()`` or import its module.
"""
