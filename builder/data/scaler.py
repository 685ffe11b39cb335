"""Per-column affine scaling with scikit-learn's estimator contract, fit on the training part only.

`Scaler(kind).fit(train)` learns `offset_` and `scale_` and returns self; `transform(x)` is
`(x - offset_) / scale_`. For kind "standard" the offset is the mean and the scale the standard
deviation (sklearn's StandardScaler), for "minmax" the minimum and the range (MinMaxScaler), for
"none" 0 and 1. The statistics come from sklearn's own estimators, fed in chunks with partial_fit
(NaN ignored), so a large training part is never copied whole.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FIT_CHUNK_ROWS = 1_000_000
KINDS = ("standard", "minmax", "none")


class Scaler:
    """x_scaled = (x - offset_) / scale_, per column; a zero or undefined scale becomes 1."""

    def __init__(self, kind: str = "standard") -> None:
        self.kind = kind

    def fit(self, train: np.ndarray) -> Scaler:
        """Learn the statistics from training rows `train` [n, k] (NaN ignored); returns self."""
        from sklearn.preprocessing import MinMaxScaler, StandardScaler

        if self.kind not in KINDS:
            raise ValueError(f"Received an invalid value for argument `kind`, expected one of {KINDS}, got {self.kind!r}")
        k = train.shape[1]
        if self.kind == "none":
            offset, scale = np.zeros(k), np.ones(k)
        else:
            est = StandardScaler() if self.kind == "standard" else MinMaxScaler()
            for i in range(0, max(len(train), 1), FIT_CHUNK_ROWS):  # chunks bound the copies sklearn makes
                est.partial_fit(train[i : i + FIT_CHUNK_ROWS])
            offset, scale = (est.mean_, est.scale_) if self.kind == "standard" else (est.data_min_, est.data_range_)
        self.scale_ = np.where((scale == 0) | ~np.isfinite(scale), 1.0, scale).astype(np.float64)
        self.offset_ = np.where(np.isfinite(offset), offset, 0.0).astype(np.float64)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "scale_"):
            raise RuntimeError("this Scaler is not fitted yet; call fit(train) first")

    def transform(self, x: np.ndarray) -> np.ndarray:
        """(x - offset_) / scale_ as float32; x [..., k]."""
        self._check_fitted()
        return ((x - self.offset_) / self.scale_).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """{"kind", "offset", "scale"}: the record written into metadata.json."""
        self._check_fitted()
        return {"kind": self.kind, "offset": self.offset_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scaler:
        """The inverse of `to_dict` (also reads the older {"kind", "mean", "scale"} form)."""
        s = cls(d["kind"])
        s.offset_ = np.asarray(d["offset"] if "offset" in d else d["mean"], dtype=np.float64)
        s.scale_ = np.asarray(d["scale"], dtype=np.float64)
        return s

    def __repr__(self) -> str:
        return f"Scaler({self.kind!r})"
