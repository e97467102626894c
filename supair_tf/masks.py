"""Cut-and-paste interaction model (paper section 3.2, Fig. 3).

Objects occlude the background and the objects behind them: step i's object is in
front of every later one. ``bg_n`` is the background mask when n objects are present
and ``visibility_i`` the share of object i's patch that is not occluded by the
objects before it; outside the scene counts as unobserved.
"""

import tensorflow as tf

from supair_tf.transformer import extract_patches


def cut_and_paste(z_where, indicators, patch_size):
    """Visibility patches, background masks and overlap ratios.

    Args:
      z_where: ``[b, steps, 4]`` boxes ``(sx, sy, x, y)``.
      indicators: ``[b, steps, H, W]`` soft object indicators I_i (transformer.py).
    Returns:
      visibility ``[b, steps, A, A]``, bg_masks ``[b, steps + 1, H, W]`` with
      ``bg_0 = 1`` and ``bg_{i+1} = bg_i (1 - I_i)``, and overlap ``[b, steps]``.
    """
    bg = tf.ones_like(indicators[:, 0])
    bg_masks, visibility = [bg], []
    # Unstacked, not sliced: the gradient of a slice is a zero-filled copy of the whole.
    steps = zip(tf.unstack(indicators, axis=1), tf.unstack(z_where, axis=1), strict=True)
    for indicator, where in steps:
        # Padded by one pixel of zeros (outside the scene is unobserved); the box moves by +1.
        padded = tf.pad(bg, [[0, 0], [1, 1], [1, 1]])[..., None]
        visibility.append(extract_patches(padded, where[:, None], patch_size,
                                          offset=1.0)[:, 0, ..., 0])
        bg = bg * (1.0 - indicator)
        bg_masks.append(bg)
    visibility = tf.stack(visibility, axis=1)
    overlap = 1.0 - tf.reduce_mean(visibility, axis=[2, 3])
    return visibility, tf.stack(bg_masks, axis=1), overlap
