"""Spatial transformer (Jaderberg et al. 2015) for SuPAIR's axis-aligned boxes.

The patch grid ``u, v = linspace(0, A, A)`` maps to scene coordinates
``x_s = sx * u + x`` and ``y_s = sy * v + y``; coordinates are clipped to
``[0, size - 1.0001]`` and sampled bilinearly. Because the map is axis-aligned, the
bilinear weights factorise into a row part and a column part: with the "tent"
``T[k, j] = max(0, 1 - |j - s_k|)`` of each sample coordinate ``s_k``,

    patch        = T_y  image  T_x^T                                  (two matmuls)
    indicator    = clip((sum_k T_y[k, :]) outer (sum_k T_x[k, :]), 0, 1)

which is exactly the bilinear gather, and the scatter-add of its weights back onto
the scene grid (the soft object indicator I_i of the paper), without any gather.
"""

import tensorflow as tf


def _tents(start, scale, patch_size, size):
    """Bilinear weights ``[..., patch_size, size]`` of the samples ``start + scale * u``."""
    grid = tf.linspace(0.0, float(patch_size), patch_size)
    coords = start[..., None] * 1.0 + scale[..., None] * grid                  # [..., A]
    coords = tf.clip_by_value(coords, 0.0, size - 1.0001)
    pixels = tf.range(size, dtype=tf.float32)
    return tf.nn.relu(1.0 - tf.abs(pixels - coords[..., None]))


def box_samplers(z_where, patch_size, height, width, offset=0.0):
    """Row and column tents ``[b, k, A, H]``, ``[b, k, A, W]`` of boxes ``(sx, sy, x, y)``."""
    sx, sy, x, y = tf.unstack(z_where, axis=-1)
    return (_tents(y + offset, sy, patch_size, height),
            _tents(x + offset, sx, patch_size, width))


def extract_patches(images, rows, cols):
    """Patches ``[b, k, A, A, C]`` of images ``[b, H, W, C]`` through tents from
    ``box_samplers``. The channels ride along with the columns in the first product and
    with the patch rows in the second (for C = 1 both are the grey products unchanged)."""
    b, k, a, height = tf.unstack(tf.shape(rows))
    width, channels = images.shape[2], images.shape[3]
    flat = tf.reshape(images, [b, height, width * channels])
    sampled_rows = tf.matmul(tf.reshape(rows, [b, k * a, height]), flat)      # [b, k*A, W*C]
    sampled_rows = tf.reshape(sampled_rows, [b, k, a, width, channels])
    sampled_rows = tf.reshape(tf.transpose(sampled_rows, [0, 1, 4, 2, 3]),
                              [b, k, channels * a, width])                     # [b, k, C*A, W]
    patches = tf.matmul(sampled_rows, cols, transpose_b=True)                  # [b, k, C*A, A]
    return tf.transpose(tf.reshape(patches, [b, k, channels, a, a]), [0, 1, 3, 4, 2])


def object_indicators(rows, cols):
    """The paper's soft object indicators I_i ``[b, k, H, W]``: how much of each scene
    pixel the box samples, clipped to [0, 1]."""
    return tf.minimum(tf.reduce_sum(rows, 2)[..., :, None] * tf.reduce_sum(cols, 2)[..., None, :],
                      1.0)


def transform(images, z_where, patch_size):
    """Bilinear patches ``[b, k, A, A, C]`` of images ``[b, H, W, C]`` and object
    indicators ``[b, k, H, W]``."""
    height, width = images.shape[1], images.shape[2]
    rows, cols = box_samplers(z_where, patch_size, height, width)
    return extract_patches(images, rows, cols), object_indicators(rows, cols)
