"""The bilinear sampler both spatial transformers use (Jaderberg et al. 2015), for
axis-aligned grids: each output row blends two source rows, each output pixel two
columns of that row. Two gathers of whole rows and columns, with the gradient to the grid
flowing through the blend weights. SuPAIR (supair_tf.transformer) and AIR
(air_tf.transformer) each place their grids on it in their own convention.
"""

import tensorflow as tf


def sample_rows_and_columns(images, row, row_f, col, col_f):
    """Samples ``images [b, H, W, C]`` on ``k`` grids per image: ``row [b, k, R]`` and
    ``col [b, k, Q]`` are the lower source neighbours (int32, at most H - 2 and W - 2) of
    each grid row and column, ``row_f`` and ``col_f`` the weights of the upper ones.
    Returns ``[b, k, R, Q, C]``.

    Each pass gathers both neighbours at once (their indices side by side): one gather and
    one gradient scatter per pass instead of two.
    """
    b, k = tf.shape(row)[0], row.shape[1]
    rows_out, width, channels = row.shape[2], images.shape[2], images.shape[3]
    rows = tf.gather(images, tf.reshape(tf.stack([row, row + 1], -1), [b, -1]), axis=1,
                     batch_dims=1)                                          # [b, k*R*2, W, C]
    rows = tf.reshape(rows, [b, k, rows_out, 2, width, channels])
    f = row_f[..., None, None]
    rows = (1.0 - f) * rows[:, :, :, 0] + f * rows[:, :, :, 1]              # [b, k, R, W, C]
    pixels = tf.gather(rows, tf.stack([col, col + 1], -1), axis=3,
                       batch_dims=2)                                        # [b, k, R, Q, 2, C]
    f = col_f[:, :, None, :, None]
    return (1.0 - f) * pixels[..., 0, :] + f * pixels[..., 1, :]
