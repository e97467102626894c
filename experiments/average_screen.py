"""How a finished run would count had it ended with the mean of its last epochs' weights
(--average_epochs, docs/procedure_study.md), from the checkpoints it kept: the newest K
(a run keeps three, one per epoch end when an epoch is shorter than the 180 s between
checkpoints). Prints each checkpoint's test count accuracy and the mean's, with the test
ELBO, on all test scenes. The run's training is not touched.

    python experiments/average_screen.py --mnist_dir=../shared/mnist RUN_DIR...
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from datasets.core import load_dataset  # noqa: E402
from experiments.run_model import load_model  # noqa: E402
from shared.evaluation import evaluate  # noqa: E402
from shared.run_folder import RunFolder, checkpoint_step  # noqa: E402
from shared.training import average_checkpoints  # noqa: E402

flags.DEFINE_string('mnist_dir', None, 'MNIST IDX files')
flags.DEFINE_integer('last', 3, 'how many of the newest checkpoints to average')
flags.DEFINE_integer('threads', 1, 'TensorFlow threads')
FLAGS = flags.FLAGS


def main(run_dirs):
    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
    tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
    tests = {}
    print('| run | steps | each alone | their mean | test ELBO, last / mean |')
    print('|---|---|---|---|---|')
    for run_dir in run_dirs[1:]:
        model, settings, _ = load_model(run_dir)
        name = settings['dataset']
        if name not in tests:
            tests[name] = load_dataset(name, mnist_dir=FLAGS.mnist_dir)[1]
        test = tests[name]
        paths = RunFolder(run_dir).checkpoints()[-FLAGS.last:]
        alone = []
        for path in paths:
            tf.train.Checkpoint(model=model).read(path).expect_partial()
            alone.append(evaluate(model, test))
        average_checkpoints(model, paths)
        mean = evaluate(model, test)
        print(f'| {os.path.basename(os.path.normpath(run_dir))} | '
              f'{", ".join(str(checkpoint_step(p)) for p in paths)} | '
              f'{" ".join(f"{100 * e.test_count_acc:.2f}" for e in alone)} | '
              f'{100 * mean.test_count_acc:.2f} | {alone[-1].elbo:,.1f} / {mean.elbo:,.1f} |',
              flush=True)


if __name__ == '__main__':
    app.run(main)
