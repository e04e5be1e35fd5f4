"""Synthetic photo-like pictures for property tests: smooth fields, edges, texture, noise."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def photo_like(rng: np.random.Generator, max_side: int = 640, min_side: int = 5) -> np.ndarray:
    """An H x W x 3 uint8 array that has the statistics PDQ cares about in a photograph."""
    h = int(rng.integers(min_side, max_side + 1))
    w = int(rng.integers(min_side, max_side + 1))
    grid = rng.integers(0, 256, size=(int(rng.integers(2, 12)), int(rng.integers(2, 12)), 3), dtype=np.uint8)
    base = Image.fromarray(grid, "RGB").resize((w, h), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(base)
    for _ in range(int(rng.integers(0, 8))):
        x0, x1 = sorted(int(v) for v in rng.integers(0, w, size=2))
        y0, y1 = sorted(int(v) for v in rng.integers(0, h, size=2))
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
    arr = np.asarray(base).astype(np.int16)
    noise = float(rng.choice([0.0, 2.0, 8.0, 25.0]))
    if noise:
        arr += rng.normal(0.0, noise, size=arr.shape).astype(np.int16)
    return np.clip(arr, 0, 255).astype(np.uint8)
