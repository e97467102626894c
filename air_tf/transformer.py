"""AIR's spatial transformer, in the convention of Pyro's AIR example: the one place where
it differs from SuPAIR's.

``z_where = (s, x, y)`` acts on normalised coordinates in [-1, 1] (pixel centres at
``(2 i + 1) / n - 1``, PyTorch's ``align_corners=False``): the window's point ``u``
shows the canvas point ``(u - (x, y)) / s``, and the canvas point ``v`` shows the
window's point ``s * v + (x, y)``. So a window spans ``1 / s`` of the canvas, centred at
``-(x, y) / s``; outside its source, a sample is zero (``grid_sample``'s zero padding).
Both directions are axis-aligned grids ``start + step * j`` in source pixels, sampled by
the bilinear sampler SuPAIR uses too (shared.sampling) on a source padded with one ring
of zeros.
"""

import tensorflow as tf

from shared.sampling import sample_rows_and_columns


def _pixel(normalised, size):
    """Normalised coordinate -> source pixel coordinate (align_corners=False)."""
    return ((normalised + 1.0) * size - 1.0) / 2.0


def _centres(size):
    """Normalised coordinates ``[size]`` of the pixel centres."""
    return (2.0 * tf.range(size, dtype=tf.float32) + 1.0) / size - 1.0


def _zero_padded_neighbours(coords, size):
    """Lower neighbours (int32) and upper weights of ``coords`` in a source of ``size``
    pixels padded by one zero on each side: a sample between -1 and ``size`` blends with
    the zero beyond the edge, one further out is zero."""
    coords = tf.clip_by_value(coords + 1.0, 0.0, size + 1.0)
    low = tf.clip_by_value(tf.floor(coords), 0.0, size)
    return tf.cast(low, tf.int32), coords - low


def _sample(source, rows, cols):
    """``source [b, H, W, 1]`` sampled at pixel coordinates ``rows [b, R]`` x
    ``cols [b, Q]``, zero outside: ``[b, R, Q]``."""
    height, width = source.shape[1], source.shape[2]
    padded = tf.pad(source, [[0, 0], [1, 1], [1, 1], [0, 0]])
    row, row_f = _zero_padded_neighbours(rows, height)
    col, col_f = _zero_padded_neighbours(cols, width)
    out = sample_rows_and_columns(padded, row[:, None], row_f[:, None], col[:, None],
                                  col_f[:, None])
    return out[:, 0, :, :, 0]


def image_to_window(images, z_where, window_size):
    """The attention window ``[b, A, A]`` that ``z_where [b, 3]`` reads from
    ``images [b, H, W, 1]`` (Pyro's ``image_to_window``)."""
    s, x, y = tf.unstack(z_where[:, :, None], axis=1)
    u = _centres(window_size)[None]
    cols = _pixel((u - x) / s, images.shape[2])
    rows = _pixel((u - y) / s, images.shape[1])
    return _sample(images, rows, cols)


def window_to_image(windows, z_where, height, width):
    """Windows ``[b, A, A]`` placed on an ``height x width`` canvas by ``z_where [b, 3]``:
    ``[b, H, W]`` (Pyro's ``window_to_image``)."""
    s, x, y = tf.unstack(z_where[:, :, None], axis=1)
    size = windows.shape[1]
    cols = _pixel(s * _centres(width)[None] + x, size)
    rows = _pixel(s * _centres(height)[None] + y, size)
    return _sample(windows[..., None], rows, cols)


def window_boxes(z_where, height, width):
    """The canvas box each window covers, ``(y0, x0, y1, x1)`` in pixels ``[..., 4]``: the
    window's edges ``u = -1, 1`` sit at ``(u - x) / s`` in normalised coordinates."""
    s, x, y = tf.unstack(z_where, axis=-1)

    def edge(u, shift, size):
        return ((u - shift) / s + 1.0) * size / 2.0

    return tf.stack([edge(-1.0, y, height), edge(-1.0, x, width),
                     edge(1.0, y, height), edge(1.0, x, width)], axis=-1)
