"""Draws a grid of scenes with their ground-truth boxes into a PNG.

    python -m datasets.preview --dataset=grid_mnist --out=grid.png
"""

import sys

import numpy as np
from absl import app, flags
from PIL import Image, ImageDraw

from datasets import DATASETS, DatasetError, load_dataset

BOX_COLOURS = ((255, 64, 64), (64, 200, 64), (80, 120, 255))


def draw_scenes(images, boxes, present, columns=8, zoom=3):
    """An RGB PIL image of scenes ``[n, H, W, 1]`` with ``boxes[n, k] = (y0, x0, y1, x1)``
    drawn where ``present[n, k]``; one colour per object slot."""
    n, height, width = images.shape[:3]
    rows = -(-n // columns)
    sheet = Image.new('RGB', (columns * (width * zoom + 2), rows * (height * zoom + 2)), 'white')
    for i in range(n):
        grey = (np.clip(images[i, ..., 0], 0, 1) * 255).astype(np.uint8)
        tile = Image.fromarray(grey).convert('RGB').resize((width * zoom, height * zoom),
                                                          Image.NEAREST)
        pen = ImageDraw.Draw(tile)
        for k in np.nonzero(present[i])[0]:
            y0, x0, y1, x1 = (float(v) * zoom for v in boxes[i, k])
            pen.rectangle([x0, y0, x1 - 1, y1 - 1], outline=BOX_COLOURS[k % 3])
        corner = ((i % columns) * (width * zoom + 2), (i // columns) * (height * zoom + 2))
        sheet.paste(tile, corner)
    return sheet


def main(argv):
    """Draws a few scenes of a data set, with their true boxes, into a PNG."""
    del argv
    F = flags.FLAGS
    try:
        _, test = load_dataset(F.dataset, data_dir=F.data_dir, mnist_dir=F.mnist_dir)
    except DatasetError as e:
        sys.exit(f'error: {e}')
    n = F.num_scenes
    present = np.arange(test.boxes.shape[1])[None, :] < test.counts[:n, None]
    try:
        draw_scenes(test.images[:n], test.boxes[:n], present).save(F.out)
    except OSError as e:
        sys.exit(f'error: cannot write {F.out} ({e.strerror})')
    print(f'wrote {F.out}: {n} test scenes of {F.dataset} with their ground-truth boxes')


if __name__ == '__main__':
    flags.DEFINE_enum('dataset', 'mnist', DATASETS, 'which data set')
    flags.DEFINE_string('out', 'preview.png', 'PNG file to write')
    flags.DEFINE_string('data_dir', '~/.cache/supair', 'where built data sets are cached')
    flags.DEFINE_string('mnist_dir', None, 'folder of the MNIST IDX files')
    flags.DEFINE_integer('num_scenes', 32, 'how many test scenes to draw')
    app.run(main)
