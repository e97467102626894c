"""Which window lets `--residual_peak` find the digits: a greedy pursuit on the true boxes,
no model. At each of a scene's n steps the densest window of the residual is found
(supair_tf.inference.peak_centres); the true object whose box centre lies nearest is
taken out (its box widened by ``margin`` pixels) and the next step looks again. A scene
is found when every step's peak lies within ``near`` pixels of an object's centre: what
the peak reading gives q to start from if q's boxes were right.

    python experiments/peak_windows.py --mnist_dir=../shared/mnist --windows=17,13,11,9
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from datasets.core import SplitCounts, load_dataset  # noqa: E402
from supair_tf.inference import peak_centres  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    """The script's flags, defined only when it runs (run.py's share names with them)."""
    flags.DEFINE_string('data_dir', '~/.cache/supair', 'built data sets')
    flags.DEFINE_string('mnist_dir', None, 'MNIST IDX files')
    flags.DEFINE_list('windows', ['17', '13', '11', '9'], 'window sides in pixels')
    flags.DEFINE_list('counts', ['2', '3'], 'true counts scored')
    flags.DEFINE_integer('scenes', 600, 'test scenes of each count')
    flags.DEFINE_integer('margin', 2, 'pixels around a found box taken out too')
    flags.DEFINE_float('near', 5.0, 'a peak this close to an object centre finds it')


def pursue(images, boxes, count, window, margin, near):
    """Per scene: whether every one of ``count`` peaks fell within ``near`` of an object
    still left; and every peak's distance to the nearest such centre."""
    residual = images.copy()
    left = np.ones(boxes.shape[:2], bool)
    left[:, count:] = False
    centres = np.stack([boxes[..., 1] + boxes[..., 3], boxes[..., 0] + boxes[..., 2]], -1) / 2
    found, distances = np.ones(len(images), bool), []
    for _ in range(count):
        peaks = peak_centres(tf.constant(residual), window).numpy()           # (x, y)
        gap = np.where(left, np.linalg.norm(centres - peaks[:, None], axis=-1), np.inf)
        nearest = np.argmin(gap, axis=1)
        distance = gap[np.arange(len(images)), nearest]
        found &= distance <= near
        distances.append(distance)
        for b, k in enumerate(nearest):
            y0, x0, y1, x1 = boxes[b, k]
            residual[b, max(0, int(y0) - margin):int(np.ceil(y1)) + margin,
                     max(0, int(x0) - margin):int(np.ceil(x1)) + margin] = 0
            left[b, k] = False
    return found, np.concatenate(distances)


def main(_):
    # the interpolation task's test set holds scenes of 0-3 digits
    _, test = load_dataset('mnist', FLAGS.data_dir, FLAGS.mnist_dir, seed=42, download=False,
                           split_counts=SplitCounts((0, 1, 3), (2,)))
    print('count | window | scenes found | median distance | 90th percentile (px)')
    for count in map(int, FLAGS.counts):
        at = np.flatnonzero(test.counts == count)[:FLAGS.scenes]
        for window in map(int, FLAGS.windows):
            found, distance = pursue(test.images[at], test.boxes[at], count, window,
                                     FLAGS.margin, FLAGS.near)
            print(f'{count} | {window} | {found.mean():.3f} | {np.median(distance):.1f} | '
                  f'{np.percentile(distance, 90):.1f}')


if __name__ == '__main__':
    define_flags()
    app.run(main)
