"""Draws a grid of scenes with their ground-truth boxes into a PNG.

    python -m datasets.preview --dataset=grid_mnist --out=grid.png
"""

import sys

import numpy as np
from absl import app, flags

from datasets import DATASETS, DatasetError, load_dataset
from datasets.drawing import draw_scenes


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
