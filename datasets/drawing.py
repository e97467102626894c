"""Scenes and their boxes as a PNG sheet: for data previews and the training pictures."""

import numpy as np
from PIL import Image, ImageDraw

BOX_COLOURS = ((255, 64, 64), (64, 200, 64), (80, 120, 255), (255, 170, 0), (200, 64, 255),
               (0, 200, 200))


def draw_scenes(images, boxes, present, columns=8, zoom=3):
    """An RGB PIL image of scenes ``[n, H, W, C]`` (C = 1 grey or 3 RGB) with
    ``boxes[n, k] = (y0, x0, y1, x1)`` drawn where ``present[n, k]``; one colour per
    object slot."""
    n, height, width = images.shape[:3]
    rows = -(-n // columns)
    sheet = Image.new('RGB', (columns * (width * zoom + 2), rows * (height * zoom + 2)), 'white')
    for i in range(n):
        pixels = (np.clip(images[i], 0, 1) * 255).astype(np.uint8)
        pixels = pixels[..., 0] if pixels.shape[-1] == 1 else pixels
        tile = Image.fromarray(pixels).convert('RGB').resize((width * zoom, height * zoom),
                                                            Image.NEAREST)
        pen = ImageDraw.Draw(tile)
        for k in np.nonzero(present[i])[0]:
            y0, x0, y1, x1 = (float(v) * zoom for v in boxes[i, k])
            pen.rectangle([x0, y0, x1 - 1, y1 - 1], outline=BOX_COLOURS[k % len(BOX_COLOURS)])
        corner = ((i % columns) * (width * zoom + 2), (i // columns) * (height * zoom + 2))
        sheet.paste(tile, corner)
    return sheet
