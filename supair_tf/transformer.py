"""Spatial transformer (Jaderberg et al. 2015) for SuPAIR's axis-aligned boxes.

The patch grid ``u, v = linspace(0, A, A)`` maps to scene coordinates
``x_s = sx * u + x`` and ``y_s = sy * v + y``; coordinates are clipped to
``[0, size - 1.0001]`` and sampled bilinearly by the sampler both models share
(shared.sampling): each patch row blends the two scene rows around its ``y_s``
(weights ``1 - f`` and ``f``, ``f`` the fractional part), and each patch pixel the two
columns of that row around its ``x_s``.

The soft object indicator I_i of the paper, the scatter-add of the sampling weights
back onto the scene grid, factorises the same way: with the "tent"
``T[k, j] = max(0, 1 - |j - s_k|)`` of each sample coordinate ``s_k``,

    indicator = clip((sum_k T_y[k, :]) outer (sum_k T_x[k, :]), 0, 1).
"""

import tensorflow as tf

from shared.sampling import sample_rows_and_columns


def _coordinates(start, scale, patch_size, size):
    """Clipped sample coordinates ``[..., patch_size]`` of ``start + scale * u``."""
    grid = tf.linspace(0.0, float(patch_size), patch_size)
    return tf.clip_by_value(start[..., None] * 1.0 + scale[..., None] * grid, 0.0, size - 1.0001)


def _tents(start, scale, patch_size, size):
    """Bilinear weights ``[..., patch_size, size]`` of the samples ``start + scale * u``."""
    coords = _coordinates(start, scale, patch_size, size)
    pixels = tf.range(size, dtype=tf.float32)
    return tf.nn.relu(1.0 - tf.abs(pixels - coords[..., None]))


def _neighbours(start, scale, patch_size, size):
    """The lower neighbour (int32) of each sample coordinate and the weight ``f`` of the
    upper one, each ``[..., patch_size]``; the clip keeps the upper one inside. A NaN
    box gives index 0 and a NaN weight (so a NaN ELBO, not an out-of-range gather)."""
    coords = _coordinates(start, scale, patch_size, size)
    low = tf.floor(coords)
    return tf.clip_by_value(tf.cast(low, tf.int32), 0, size - 2), coords - low


def extract_patches(images, z_where, patch_size, offset=0.0):
    """Bilinear patches ``[b, k, A, A, C]`` of images ``[b, H, W, C]`` under boxes
    ``z_where [b, k, 4]`` (``offset`` is added to the corners: 1 for a scene padded by
    one pixel)."""
    height, width = images.shape[1], images.shape[2]
    sx, sy, x, y = tf.unstack(z_where, axis=-1)
    row, row_f = _neighbours(y + offset, sy, patch_size, height)              # [b, k, A]
    col, col_f = _neighbours(x + offset, sx, patch_size, width)
    return sample_rows_and_columns(images, row, row_f, col, col_f)


def object_indicators(z_where, patch_size, height, width):
    """The paper's soft object indicators I_i ``[b, k, H, W]``: how much of each scene
    pixel the box samples, clipped to [0, 1]."""
    sx, sy, x, y = tf.unstack(z_where, axis=-1)
    rows = tf.reduce_sum(_tents(y, sy, patch_size, height), -2)              # [b, k, H]
    cols = tf.reduce_sum(_tents(x, sx, patch_size, width), -2)               # [b, k, W]
    return tf.minimum(rows[..., :, None] * cols[..., None, :], 1.0)


def transform(images, z_where, patch_size):
    """Bilinear patches ``[b, k, A, A, C]`` of images ``[b, H, W, C]`` and object
    indicators ``[b, k, H, W]``."""
    height, width = images.shape[1], images.shape[2]
    return (extract_patches(images, z_where, patch_size),
            object_indicators(z_where, patch_size, height, width))
