"""Pasting objects into scenes, back to front: for reconstructions and sampled scenes."""

import numpy as np
import tensorflow as tf
from PIL import Image


def paste_objects(scenes, objects, z_where, count, patch_size):
    """Pastes ``objects [n, k, A, A, C]``, each resized (bilinear) to its box
    ``z_where = (sx, sy, x, y)``, onto ``scenes [n, H, W, C]`` in place: the first
    ``count[b]`` objects of scene b, the last first, so that step 0 ends in front as in
    the cut-and-paste model (paper section 3.2). The part of a box outside the scene is
    cut off."""
    height, width = scenes.shape[1:3]
    for b in range(len(scenes)):
        for i in reversed(range(count[b])):
            sx, sy, x, y = z_where[b, i]
            col, row = int(np.floor(x)), int(np.floor(y))
            w, h = int(sx * patch_size), int(sy * patch_size)
            top, left = max(row, 0), max(col, 0)
            bottom, right = min(row + h, height), min(col + w, width)
            if bottom <= top or right <= left:
                continue
            for ch in range(scenes.shape[3]):
                patch = Image.fromarray(np.clip(objects[b, i, ..., ch], 0, 1).astype(np.float32),
                                        mode='F')
                resized = np.asarray(patch.resize((w, h), Image.BILINEAR))
                scenes[b, top:bottom, left:right, ch] = resized[top - row:bottom - row,
                                                                left - col:right - col]


def _resize_weights(start, scale, patch_size, size):
    """Bilinear weights ``[b, size, A]`` that resize a patch of side A to the box
    ``start .. start + scale * A`` of a scene axis of ``size`` pixels, and whether each
    pixel ``[b, size]`` lies in the box (as paste_objects cuts it: from floor(start),
    int(scale * A) pixels)."""
    pixels = tf.range(size, dtype=tf.float32)[None]
    first = tf.floor(start)[:, None]
    inside = (pixels >= first) & (pixels < first + tf.floor(scale * patch_size)[:, None])
    # Pixel centres in the patch's own pixel coordinates (half-pixel centres, as PIL's).
    coords = (pixels + 0.5 - first) / scale[:, None] - 0.5
    coords = tf.clip_by_value(coords, 0.0, patch_size - 1.0)
    grid = tf.range(patch_size, dtype=tf.float32)
    return tf.nn.relu(1.0 - tf.abs(coords[..., None] - grid)), inside


def paste_objects_graph(scenes, objects, z_where, count, patch_size):
    """paste_objects as graph operations (for a SavedModel): ``objects [n, k, A, A, C]``
    resized bilinearly to their boxes and pasted onto ``scenes [n, H, W, C]`` back to
    front, the first ``count [n]`` of each scene; returns the pasted scenes. (PIL's
    resize filters a shrunk patch over more neighbours: the two differ by a few hundredths
    where a box is much smaller than A.)"""
    height, width = scenes.shape[1], scenes.shape[2]
    out = scenes
    for i in reversed(range(objects.shape[1])):
        sx, sy, x, y = tf.unstack(z_where[:, i], axis=-1)
        rows, in_rows = _resize_weights(y, sy, patch_size, height)            # [n, H, A]
        cols, in_cols = _resize_weights(x, sx, patch_size, width)             # [n, W, A]
        pasted = tf.einsum('nha,nabc,nwb->nhwc', rows, tf.clip_by_value(objects[:, i], 0, 1),
                           cols)
        inside = in_rows[:, :, None] & in_cols[:, None, :] & (i < count)[:, None, None]
        out = tf.where(inside[..., None], pasted, out)
    return out
