"""The sliding-window geometry of convolutions and pools, shared by the executor and the
circuit's lowering (one definition, so the two cannot disagree)."""

from __future__ import annotations

import numpy as np


def windows(x: np.ndarray, kernel, strides, pads, dilations=(1, 1), pad_value=0) -> np.ndarray:
    """The sliding windows of a batch ``x[N, C, H, W]`` as a view of shape
    ``(N, C, OH, OW, kh, kw)``; ``pads = (top, left, bottom, right)`` filled with ``pad_value``."""
    kh, kw = kernel
    sh, sw = strides
    dh, dw = dilations
    top, left, bottom, right = pads
    if any(pads):
        x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=pad_value)
    span_h, span_w = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    view = np.lib.stride_tricks.sliding_window_view(x, (span_h, span_w), axis=(2, 3))
    return view[:, :, ::sh, ::sw, ::dh, ::dw]
