"""Pictures for people: inferred boxes on test scenes, and SPN reconstructions (Fig. 6)."""

import numpy as np
from PIL import Image

from datasets.drawing import draw_scenes
from supair_tf.model import boxes_from_where
from supair_tf.paste import paste_objects


def reconstruct_scenes(model, images, terms=None):
    """Rebuilds scenes from the SPNs (Vergari et al. 2018), as in the paper's Fig. 6.

    The background SPN fills the pixels the detected objects cover (its MPE state,
    observed pixels kept); each object's SPN reconstruction, resized to its box, is
    pasted back to front (cut off at the scene's edge). Returns ``[n, H, W, C]`` in
    [0, 1]. ``terms``: the images' ``model.scene_terms(images, sample=False)``, if
    already computed.
    """
    c = model.config
    height, width, channels = c.scene_shape
    terms = terms or model.scene_terms(images, sample=False)
    count = np.sum(terms.z_pres.numpy() >= 0.5, axis=1)
    items = c.patch_size ** 2 * channels
    patches = terms.boxes.patches.numpy().reshape(-1, items)
    hidden = np.repeat(1.0 - terms.boxes.visibility.numpy()[..., None], channels, -1)
    objects = model.object_spn.mpe_reconstruct(patches, hidden.reshape(-1, items)).reshape(
        len(images), c.steps, c.patch_size, c.patch_size, channels)
    scenes = np.asarray(images, np.float32).reshape(len(images), -1)
    own_mask = terms.boxes.bg_masks.numpy()[np.arange(len(images)), count]      # [n, H, W]
    own_mask = np.repeat(own_mask[..., None], channels, -1).reshape(len(images), -1)
    if model.background_spn is None:
        background = scenes * own_mask
    else:
        background = model.background_spn.mpe_reconstruct(scenes, 1.0 - own_mask)
    out = np.clip(background, 0, 1).reshape(-1, height, width, channels)
    paste_objects(out, objects, terms.z_where.numpy(), count, c.patch_size)
    return np.clip(out, 0, 1)


def inference_sheet(model, images, columns=8):
    """Scenes with their inferred boxes, one colour per step."""
    out = model.detect(images)
    return draw_scenes(np.asarray(images), out.boxes.numpy(), out.z_pres.numpy() >= 0.5,
                       columns=columns)


def reconstruction_sheet(model, images, columns=8):
    """Rows of scenes with boxes, each followed by a row of their reconstructions."""
    terms = model.scene_terms(images, sample=False)   # one inference pass for both rows
    present = terms.z_pres.numpy() >= 0.5
    boxes = boxes_from_where(terms.z_where, model.config.patch_size).numpy()
    recon = reconstruct_scenes(model, images, terms)
    rows = []
    for start in range(0, len(images), columns):
        part = slice(start, start + columns)
        rows.append(draw_scenes(np.asarray(images)[part], boxes[part], present[part], columns))
        rows.append(draw_scenes(recon[part], boxes[part], present[part], columns))
    sheet = Image.new('RGB', (rows[0].width, sum(r.height for r in rows)), 'white')
    top = 0
    for row in rows:
        sheet.paste(row, (0, top))
        top += row.height
    return sheet


def sample_sheet(model, n=16, seed=0, columns=8, leaf_means=False):
    """Scenes sampled from the learned model (``Supair.sample_scenes``) with their boxes."""
    samples = model.sample_scenes(n, seed=seed, leaf_means=leaf_means)
    present = np.arange(model.config.steps)[None] < samples.counts[:, None]
    return draw_scenes(samples.images, samples.boxes, present, columns=columns)
