"""Pictures both models draw: inferred boxes on scenes, and rows of sheets stacked."""

import numpy as np
from PIL import Image

from datasets.drawing import draw_scenes


def inference_sheet(model, images, columns=8):
    """Scenes with the boxes ``model.detect`` finds, one colour per step."""
    out = model.detect(images)
    return draw_scenes(np.asarray(images), out.boxes.numpy(), out.z_pres.numpy() >= 0.5,
                       columns=columns)


def with_reconstructions(images, recon, boxes, present, columns=8):
    """Rows of scenes with boxes, each followed by a row of their reconstructions."""
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
