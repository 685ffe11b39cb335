"""builder.model.layers: hand-checkable numbers, masks, and the config round trip of each layer."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from builder.model.layers import AddLastValue, AttentionPooling, Standardize, Unstandardize


def test_standardize_scales_and_masks_nan_padding() -> None:
    layer = Standardize(2, mask_nan=True)
    layer.build((None, 3, 2))
    layer.set_statistics(np.array([1.0, 10.0]), np.array([2.0, 0.0]))  # a zero scale becomes 1
    x = np.array([[[3.0, 12.0], [1.0, np.nan], [np.nan, np.nan]]], dtype="float32")
    np.testing.assert_allclose(np.asarray(layer(x)), [[[1.0, 2.0], [0.0, 0.0], [0.0, 0.0]]])
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(x)), [[True, True, False]])
    assert Standardize(2).compute_mask(x) is None


def test_unstandardize_inverts_standardize() -> None:
    layer = Unstandardize(1)
    layer.build((None, 2, 1))
    layer.set_statistics(np.array([5.0]), np.array([3.0]))
    np.testing.assert_allclose(np.asarray(layer(np.array([[[1.0], [-1.0]]], "float32"))), [[[8.0], [2.0]]])


def test_attention_pooling_weights_sum_to_one_and_skip_masked_steps() -> None:
    layer = AttentionPooling(4)
    x = np.array([[[1.0, 0.0], [0.0, 1.0], [100.0, 100.0]]], dtype="float32")
    out = np.asarray(layer(x, mask=np.array([[True, True, False]])))
    assert out.shape == (1, 2) and np.all(out >= 0) and out.sum() == pytest.approx(1.0, abs=1e-5)


def test_add_last_value_adds_the_last_step_of_the_targets() -> None:
    x = np.array([[[1.0, 9.0], [2.0, 9.0]]], dtype="float32")
    delta = np.array([[[0.5], [1.5]]], dtype="float32")
    np.testing.assert_allclose(np.asarray(AddLastValue(1)([x, delta])), [[[2.5], [3.5]]])


@pytest.mark.parametrize("layer", [Standardize(3, mask_nan=True), Unstandardize(2), AttentionPooling(5), AddLastValue(2)])
def test_config_round_trip(layer: keras.layers.Layer) -> None:
    config = layer.get_config()
    again = type(layer).from_config(config)
    assert again.get_config() == config
    assert keras.saving.get_registered_object(f"builder>{type(layer).__name__}") is type(layer)
