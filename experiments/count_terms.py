"""What one more box gains in the ELBO, term by term, on a trained SuPAIR run.

For the test scenes of each true count, the boxes q proposes (z_where at its mean) are
scored for n = found and n = found - 1 objects (paper eq. 9's joint log p(x, z | n)), and
the difference is split into the box's object term (area-scaled, eq. 7), its overlap
log-prior, the background's gain from the pixels the box cuts out, and the count prior.
A split (one object, two boxes) is paid for by whichever of these is positive.

  python experiments/count_terms.py --run_dir=/tmp/screen/noisy_mnist_fixed_seed3 \
      --mnist_dir=../shared/mnist --test_scenes=2000
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from datasets.core import load_dataset  # noqa: E402
from shared.run_folder import RunFolder  # noqa: E402
from supair_tf import Supair  # noqa: E402
from supair_tf.config import SupairConfig  # noqa: E402

flags.DEFINE_string('run_dir', None, 'a SuPAIR run folder with a checkpoint', required=True)
flags.DEFINE_string('data_dir', '~/.cache/supair', 'built data sets')
flags.DEFINE_string('mnist_dir', None, 'MNIST IDX files')
flags.DEFINE_integer('test_scenes', 2000, 'first N test scenes')
FLAGS = flags.FLAGS


def load_model(run_dir):
    """The run's model at its newest checkpoint, and its settings."""
    settings = json.load(open(os.path.join(run_dir, 'settings.json')))
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in settings['config'].items()}
    model = Supair(SupairConfig(**fields), seed=settings['seed'], jit_compile=False)
    path = RunFolder(run_dir).checkpoints()[-1]
    tf.train.Checkpoint(model=model).read(path).expect_partial()
    return model, settings, path


def main(_):
    model, settings, path = load_model(FLAGS.run_dir)
    _, test = load_dataset(settings['dataset'], FLAGS.data_dir, FLAGS.mnist_dir,
                           seed=settings['data_seed'], download=False)
    images, true = test.images[:FLAGS.test_scenes], test.counts[:FLAGS.test_scenes]
    rows = []
    for start in range(0, len(images), 250):
        batch = tf.constant(images[start:start + 250])
        t = model.scene_terms(batch, sample=False)
        found = np.sum(t.z_pres.numpy() >= 0.5, axis=1)
        obj = t.boxes.object_ll.numpy()
        overlap = t.boxes.overlap_lp.numpy()
        bg = t.boxes.bg_ll.numpy()
        for i, n in enumerate(found):
            if n == 0:
                continue
            rows.append((true[start + i], n, obj[i, n - 1], overlap[i, n - 1],
                         bg[i, n] - bg[i, n - 1], t.boxes.overlap[i, n - 1],
                         t.z_where[i, n - 1, 0]))
    rows = np.array(rows, dtype=np.float64)
    prior = -model.config.count_decay
    print(f'{FLAGS.run_dir} at {os.path.basename(path)}; the last box of n found objects: '
          'what n scores above n - 1 (nats per scene, means)')
    print('true found scenes | object term | overlap log-prior | background gain | count prior '
          '| total | occluded share | box width / A')
    for t_count in sorted(set(rows[:, 0])):
        for n in sorted(set(rows[rows[:, 0] == t_count, 1])):
            sel = rows[(rows[:, 0] == t_count) & (rows[:, 1] == n)]
            if len(sel) < 10:
                continue
            o, lp, g, share, width = sel[:, 2:].mean(axis=0)
            print(f'{int(t_count)} {int(n)} {len(sel):6d} | {o:9.1f} | {lp:8.2f} | {g:9.1f} | '
                  f'{prior:5.2f} | {o + lp + g + prior:8.1f} | {share:.3f} | {width:.2f}')


if __name__ == '__main__':
    app.run(main)
