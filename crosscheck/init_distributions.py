"""The initial parameters of the authors' graph (its own TF1 initialisers) beside ours, one
line per parameter group in the original's layout: mean, standard deviation, min and max.
Both come from the same distributions if the port's initialisation is faithful. Then it
checks reference_check.load_into_ours, which original_training --start=original uses: after
it, every group of ours in the original's layout must equal the original's values, and both
graphs give the same ELBO on the first training batch with the same z_where noise.

    python crosscheck/init_distributions.py --original=PATH/TO/supair/src \\
        --dataset=noisy_mnist --seed=5

Uses original_training's graph and reference_check's layouts; not run by CI.
"""

import os
import sys

import numpy as np
import tensorflow as tf
from absl import app

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import original_training as harness  # noqa: E402  (its flags: original, dataset, seed, ...)
import reference_check as rc  # noqa: E402

from datasets import load_dataset  # noqa: E402
from supair_tf import PRESETS  # noqa: E402

FLAGS = harness.FLAGS


def summary(values):
    return f'{values.mean():+.4f} {values.std():.4f} [{values.min():+.4f}, {values.max():+.4f}]'


def main(argv):
    del argv
    config = PRESETS[FLAGS.dataset].replace(procedure='paper')  # the authors' training
    original, session, tensors, _, ours, groups = harness.original_and_ours(config)
    print(f'{"group":40s} {"shape":16s} original: mean std [min, max] | ours: the same')
    worst = 0.0
    for group in groups:
        label, target = group[0], group[2]
        mine = rc.in_original_layout(group)
        theirs = session.run(target)
        if theirs.std() > 0:
            worst = max(worst, abs(mine.std() / theirs.std() - 1))
        print(f'{label:40s} {str(theirs.shape):16s} {summary(theirs)} | {summary(mine)}')
    print(f'largest relative difference of a group\'s standard deviation: {worst:.3f}')

    written = rc.load_into_ours(groups, session)
    gap = max(float(np.max(np.abs(rc.in_original_layout(group) - session.run(group[2]))))
              for group in groups)
    print(f"ours after load_into_ours: {min(written.values()):.1%} of every variable's "
          f"entries written at least; largest |ours - original| in its layout: {gap:.2e}")
    train, _ = load_dataset(FLAGS.dataset, data_dir=FLAGS.data_dir, mnist_dir=FLAGS.mnist_dir,
                            seed=42)
    images = train.images[:config.batch_size]
    noise = np.random.default_rng(FLAGS.seed).standard_normal(
        [config.batch_size, 3, 4]).astype(np.float32)
    theirs = session.run(tensors['elbo'], {tensors['scenes']: images, tensors['noise']: noise})
    mine = float(np.mean(ours.elbo_graph(tf.constant(images), tf.constant(noise))))
    relative = abs(mine - theirs) / abs(theirs)
    print(f'mean ELBO of the first training batch from the original\'s start: original '
          f'{theirs:.4f}, ours {mine:.4f} (relative difference {relative:.1e})')


if __name__ == '__main__':
    app.run(main)
