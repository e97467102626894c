"""Does run.py train as crosscheck/original_training.py --graphs=ours does?

Builds run.py's trainer (its flags, data and model, in a scratch run folder) and the
harness's model and step for the same data set and seed, and prints: whether the
training scenes, the configs and the initial weights are the same, then the loss of
both on the first ``--compare_steps`` batches of the stored order, and the largest
weight difference after them.

    python crosscheck/path_check.py --dataset=grid_mnist --procedure=paper \
        --seed=1 --threads=1 --mnist_dir=/work/shared/mnist --compare_steps=5

Not run by CI.
"""

import os
import sys
import tempfile

import numpy as np
import tensorflow as tf
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import models  # noqa: E402, F401  (registers the kinds --model names)
from datasets import load_dataset  # noqa: E402
from shared.flags import read_run_spec  # noqa: E402
from shared.run_modes import build_trainer  # noqa: E402
from shared.run_setup import load_data  # noqa: E402
from shared.runtime import configure  # noqa: E402
from shared.training import make_optimizer, make_train_step  # noqa: E402
from supair_tf import PRESETS, Supair  # noqa: E402

flags.DEFINE_integer('compare_steps', 5, 'training steps compared')
FLAGS = flags.FLAGS


def largest_difference(a, b):
    """The largest absolute difference between two models' weights."""
    return max(float(np.max(np.abs(x.numpy() - y.numpy())))
               for x, y in zip(a.model_variables, b.model_variables, strict=True))


def main(argv):
    """Compares run.py's trainer with the harness's step."""
    del argv
    FLAGS.run_dir = tempfile.mkdtemp(prefix='path_check_')
    spec = read_run_spec()
    configure(spec.threads)
    tf.config.threading.set_inter_op_parallelism_threads(spec.threads)
    train, test, config = load_data(spec, FLAGS.run_dir)
    trainer = build_trainer(spec, config, train, test, FLAGS.run_dir,
                            tf.distribute.get_strategy(), True, {})
    # The harness's side, as original_training.py builds it with --graphs=ours.
    theirs, _ = load_dataset(spec.dataset, data_dir=spec.data_dir, mnist_dir=spec.mnist_dir,
                             seed=42)
    harness = Supair(PRESETS[spec.dataset].replace(structure_seed=spec.seed, procedure='paper'),
                     seed=spec.seed)
    print(f'training scenes equal: {np.array_equal(train.images, theirs.images)}; configs '
          f'equal: {harness.config == config}; largest initial weight difference: '
          f'{largest_difference(trainer.model, harness):g}')
    trainer.compile_step()
    step = make_train_step(harness, make_optimizer(harness))
    order, batch = trainer.batch_indices(0), config.batch_size
    for k in range(FLAGS.compare_steps):
        ours = float(trainer.train_step(train.images[np.sort(order[k * batch:(k + 1) * batch])]))
        other = float(step(theirs.images[k * batch:(k + 1) * batch]))
        print(f'step {k + 1}: run.py loss {ours:.6f}, harness loss {other:.6f}, '
              f'difference {ours - other:g}')
    print(f'largest weight difference after {FLAGS.compare_steps} steps: '
          f'{largest_difference(trainer.model, harness):g}')


if __name__ == '__main__':
    app.run(main)
