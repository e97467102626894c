"""Pasting objects into scenes, back to front: for reconstructions and sampled scenes."""

import numpy as np
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
