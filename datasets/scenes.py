"""Scene builders: Multi-MNIST (AIR's), Sprites, and the Noisy and Grid backgrounds.

All builders return float32 images ``[n, 50, 50]`` in [0, 1], int32 counts ``[n]``
and float32 boxes ``[n, 2, 4]`` as (y0, x0, y1, x1) pixel bounds, zero where a
scene has fewer objects.
"""

import numpy as np
from PIL import Image

CANVAS = 50
MAX_OBJECTS = 2


def _empty(n):
    return (np.zeros([n, CANVAS, CANVAS], np.float32), np.zeros([n], np.int32),
            np.zeros([n, MAX_OBJECTS, 4], np.float32))


def multi_mnist(digits, n, rng):
    """Scenes of 0-2 digits, each shrunk by ``s ~ N(1.3, 0.1)`` (bilinear) to ``int(28/s)``.

    A scene whose digits add up to more than full intensity anywhere is drawn again,
    digits and all, as in AIR's data set.
    """
    images, counts, boxes = _empty(n)
    counts[:] = rng.integers(0, MAX_OBJECTS + 1, n)
    for i in np.nonzero(counts)[0]:
        while True:
            canvas = np.zeros([CANVAS, CANVAS], np.float32)
            for j in range(counts[i]):
                digit = digits[rng.integers(len(digits))]
                size = int(28 / (0.1 * rng.standard_normal() + 1.3))
                resized = np.asarray(Image.fromarray(digit).resize((size, size), Image.BILINEAR))
                row, col = rng.integers(0, CANVAS - size, 2)
                canvas[row:row + size, col:col + size] += resized
                boxes[i, j] = (row, col, row + size, col + size)
            if canvas.max() <= 255:
                break
        images[i] = canvas / 255.0
    return images, counts, boxes


def _sprite_masks(size):
    """Boolean ``size x size`` masks of the three shapes: circle, square, diamond."""
    half = size // 2
    offset = np.arange(size) - half
    dist_sq = offset[:, None] ** 2 + offset[None, :] ** 2
    dist_l1 = np.abs(offset[:, None]) + np.abs(offset[None, :])
    return np.stack([dist_sq < half ** 2, np.ones([size, size], bool), dist_l1 < half])


_SPRITES = {size: _sprite_masks(size) for size in range(12, 17)}
SPRITE_GREY = np.array([1.0, 0.8, 0.7], np.float32)  # grey = 1.0 R + 0.8 G + 0.7 B


def sprites(n, rng):
    """Scenes of 0-2 non-overlapping sprites (circle, square, 45-degree square).

    Each sprite has a top-left corner uniform in [0, 38]^2 and a size uniform in
    [12, min(16, 50 - corner)]; one that would touch an earlier sprite is redrawn.
    """
    images, counts, boxes = _empty(n)
    counts[:] = rng.integers(0, MAX_OBJECTS + 1, n)
    for i in np.nonzero(counts)[0]:
        occupied = np.zeros([CANVAS, CANVAS], bool)
        for j in range(counts[i]):
            while True:
                row, col = rng.integers(0, 39, 2)
                size = rng.integers(12, min(16, CANVAS - row, CANVAS - col) + 1)
                shape = rng.integers(0, 3)
                mask = _SPRITES[size][shape]
                if not np.any(occupied[row:row + size, col:col + size] & mask):
                    break
            occupied[row:row + size, col:col + size] |= mask
            images[i, row:row + size, col:col + size][mask] = SPRITE_GREY[shape]
            boxes[i, j] = (row, col, row + size, col + size)
    return images, counts, boxes


def add_noise(images, rng):
    """Noisy-MNIST: ``clip(0.8 x + 0.1 + N(0, 0.2), 0, 1)``."""
    noise = rng.standard_normal(images.shape, dtype=np.float32) * 0.2
    return np.clip(0.8 * images + 0.1 + noise, 0.0, 1.0)


def add_grid(images, rng, period=5, level=0.4):
    """Grid-MNIST: every ``period``-th row and column from a random offset is at least ``level``."""
    n = len(images)
    index = np.arange(CANVAS)
    rows = (index[None, :] - rng.integers(0, period, n)[:, None]) % period == 0   # [n, 50]
    cols = (index[None, :] - rng.integers(0, period, n)[:, None]) % period == 0
    lines = rows[:, :, None] | cols[:, None, :]
    return np.where(lines, np.maximum(images, level), images).astype(np.float32)
