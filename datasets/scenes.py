"""Scene builders: Multi-MNIST (AIR's), Sprites, and the Noisy and Grid backgrounds.

All builders return float32 images ``[n, S, S]`` (colour Sprites: ``[n, S, S, 3]``)
in [0, 1], int32 counts ``[n]`` and float32 boxes ``[n, K, 4]`` as (y0, x0, y1, x1)
pixel bounds of each object's drawn pixels (``ink_box``), zero where a scene has fewer
objects. The paper's scenes: S = 50
(``CANVAS``), 0-2 objects (K = ``MAX_OBJECTS``); other sizes and counts draw the same
way.
"""

import numpy as np
from PIL import Image

CANVAS = 50
MAX_OBJECTS = 2


def ink_box(mask, row, col):
    """``(y0, x0, y1, x1)`` bounding what ``mask`` (an object's drawn pixels) draws when its
    patch's top-left corner is at ``(row, col)``: the object's ground-truth box. (The patch
    itself has margins: a digit's ink covers about 37% of its resized 28 x 28 patch.)"""
    rows, cols = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
    return (row + rows[0], col + cols[0], row + rows[-1] + 1, col + cols[-1] + 1)


def draw_counts(rng, n, max_objects, counts=None):
    """``n`` object counts, each of 0..``max_objects`` equally likely, or (``counts``: a
    sequence of them) each of ``counts`` equally likely: the scenes of a split that holds
    some counts out (the AIR paper's generalisation tasks, its Fig. 6)."""
    if counts is None:
        return rng.integers(0, max_objects + 1, n)
    return np.asarray(counts)[rng.integers(0, len(counts), n)]


def _empty(n, canvas, max_objects, channels=()):
    return (np.zeros([n, canvas, canvas, *channels], np.float32), np.zeros([n], np.int32),
            np.zeros([n, max_objects, 4], np.float32))


def multi_mnist(digits, n, rng, canvas=CANVAS, max_objects=MAX_OBJECTS, allowed=None,
                which=None):
    """Scenes of 0 to ``max_objects`` digits (each count equally likely; or only the
    ``allowed`` counts, draw_counts), each shrunk by ``s ~ N(1.3, 0.1)`` (bilinear) to
    ``int(28/s)``, at a uniform place on the canvas.

    A scene whose digits add up to more than full intensity anywhere is drawn again,
    digits and all, as in AIR's data set. ``which`` (an int array ``[n, max_objects]``),
    if given, receives the index into ``digits`` of each object drawn (-1: none).
    """
    images, counts, boxes = _empty(n, canvas, max_objects)
    counts[:] = draw_counts(rng, n, max_objects, counts=allowed)
    for i in np.nonzero(counts)[0]:
        while True:
            scene = np.zeros([canvas, canvas], np.float32)
            for j in range(counts[i]):
                index = rng.integers(len(digits))
                if which is not None:
                    which[i, j] = index
                digit = digits[index]
                size = int(28 / (0.1 * rng.standard_normal() + 1.3))
                resized = np.asarray(Image.fromarray(digit).resize((size, size), Image.BILINEAR))
                row, col = rng.integers(0, canvas - size, 2)
                scene[row:row + size, col:col + size] += resized
                boxes[i, j] = ink_box(resized > 0, row, col)
            if scene.max() <= 255:
                break
        images[i] = scene / 255.0
    return images, counts, boxes


def _sprite_masks(size):
    """Boolean ``size x size`` masks of the three shapes: circle, square, diamond."""
    half = size // 2
    offset = np.arange(size) - half
    dist_sq = offset[:, None] ** 2 + offset[None, :] ** 2
    dist_l1 = np.abs(offset[:, None]) + np.abs(offset[None, :])
    return np.stack([dist_sq < half ** 2, np.ones([size, size], bool), dist_l1 < half])


_SPRITES = {size: _sprite_masks(size) for size in range(12, 17)}
# Circle red, square green, diamond blue; the grey scenes are 1.0 R + 0.8 G + 0.7 B.
SPRITE_RGB = np.eye(3, dtype=np.float32)
SPRITE_GREY = SPRITE_RGB @ np.array([1.0, 0.8, 0.7], np.float32)


def sprites(n, rng, canvas=CANVAS, max_objects=MAX_OBJECTS, colour=False, allowed=None):
    """Scenes of 0 to ``max_objects`` (or the ``allowed`` counts: draw_counts)
    non-overlapping sprites (circle, square, 45-degree square), grey or (``colour``) RGB;
    the same draws give the same scenes either way.

    Each sprite has a top-left corner uniform in [0, S - 12]^2 and a size uniform in
    [12, min(16, S - corner)]; one that would touch an earlier sprite is redrawn.
    """
    images, counts, boxes = _empty(n, canvas, max_objects, (3,) if colour else ())
    colours = SPRITE_RGB if colour else SPRITE_GREY
    counts[:] = draw_counts(rng, n, max_objects, counts=allowed)
    for i in np.nonzero(counts)[0]:
        occupied = np.zeros([canvas, canvas], bool)
        for j in range(counts[i]):
            while True:
                row, col = rng.integers(0, canvas - 11, 2)
                size = rng.integers(12, min(16, canvas - row, canvas - col) + 1)
                shape = rng.integers(0, 3)
                mask = _SPRITES[size][shape]
                if not np.any(occupied[row:row + size, col:col + size] & mask):
                    break
            occupied[row:row + size, col:col + size] |= mask
            images[i, row:row + size, col:col + size][mask] = colours[shape]
            boxes[i, j] = ink_box(mask, row, col)
    return images, counts, boxes


def add_noise(images, rng):
    """Noisy-MNIST: ``clip(0.8 x + 0.1 + N(0, 0.2), 0, 1)``."""
    noise = rng.standard_normal(images.shape, dtype=np.float32) * 0.2
    return np.clip(0.8 * images + 0.1 + noise, 0.0, 1.0)


def add_grid(images, rng, period=5, level=0.4):
    """Grid-MNIST: every ``period``-th row and column from a random offset is at least ``level``."""
    n, height, width = images.shape[:3]
    rows = (np.arange(height)[None] - rng.integers(0, period, n)[:, None]) % period == 0
    cols = (np.arange(width)[None] - rng.integers(0, period, n)[:, None]) % period == 0
    lines = rows[:, :, None] | cols[:, None, :]
    return np.where(lines, np.maximum(images, level), images).astype(np.float32)
