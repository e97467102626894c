"""Pictures for people: inferred boxes on test scenes, and SPN reconstructions (Fig. 6)."""

import numpy as np
from PIL import Image

from datasets.drawing import draw_scenes
from supair_tf.generation import boxes_from_where


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
    recon = model.reconstruct(images, terms)
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
