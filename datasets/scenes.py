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

from datasets.errors import DatasetError

CANVAS = 50
MAX_OBJECTS = 2
# From this many objects a scene is built one object at a time, each redrawn alone until it
# fits (a whole-scene redraw, AIR's way and ours up to 3 objects, would almost never end);
# an object that does not fit in OBJECT_TRIES draws, or a scene in SCENE_TRIES, stops the
# build with one line naming the sizes.
PLACE_ALONE_FROM = 4
OBJECT_TRIES = 1_000
SCENE_TRIES = 20


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
    digits and all, as in AIR's data set; from PLACE_ALONE_FROM objects, only the digit
    that does. ``which`` (an int array ``[n, max_objects]``), if given, receives the index
    into ``digits`` of each object drawn (-1: none).
    """
    images, counts, boxes = _empty(n, canvas, max_objects)
    counts[:] = draw_counts(rng, n, max_objects, counts=allowed)
    tries = OBJECT_TRIES if max_objects >= PLACE_ALONE_FROM else 1
    for i in np.nonzero(counts)[0]:
        for _ in range(SCENE_TRIES if tries > 1 else 10 ** 9):
            scene = np.zeros([canvas, canvas], np.float32)
            # Every digit drawn before the scene is judged (a list, not a short cut): the
            # draws of the whole-scene redraw stay those of the data sets built before.
            placed = [_place_digit(scene, digits, rng, tries, boxes[i, j],
                                   None if which is None else which[i, j:j + 1])
                      for j in range(counts[i])]
            if all(placed):
                break
        else:
            raise DatasetError(f'cannot place {counts[i]} digits on a {canvas} x {canvas} scene '
                               'without their ink adding up past full intensity; ask for '
                               'fewer objects or a larger scene_size')
        images[i] = scene / 255.0
    return images, counts, boxes


def _place_digit(scene, digits, rng, tries, box, which):
    """Draws a digit (index into ``which``, size, place) and adds it to ``scene``, its box
    into ``box``; with ``tries`` > 1 it is drawn again (up to ``tries`` times) until the
    scene stays within full intensity, else it is added regardless. Whether the scene
    stays within full intensity."""
    for _ in range(tries):
        index = rng.integers(len(digits))
        size = int(28 / (0.1 * rng.standard_normal() + 1.3))
        resized = np.asarray(Image.fromarray(digits[index]).resize((size, size), Image.BILINEAR))
        row, col = rng.integers(0, scene.shape[0] - size, 2)
        patch = scene[row:row + size, col:col + size] + resized
        if tries == 1 or patch.max() <= 255:
            break
    else:
        return False
    if which is not None:
        which[0] = index
    scene[row:row + size, col:col + size] = patch
    box[:] = ink_box(resized > 0, row, col)
    return scene.max() <= 255 if tries == 1 else True


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
            for _ in range(OBJECT_TRIES):
                row, col = rng.integers(0, canvas - 11, 2)
                size = rng.integers(12, min(16, canvas - row, canvas - col) + 1)
                shape = rng.integers(0, 3)
                mask = _SPRITES[size][shape]
                if not np.any(occupied[row:row + size, col:col + size] & mask):
                    break
            else:
                raise DatasetError(f'cannot place {counts[i]} sprites on a {canvas} x {canvas} '
                                   'scene without touching; ask for fewer objects or a '
                                   'larger scene_size')
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
