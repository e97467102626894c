"""What one more box gains in the ELBO, term by term, on a trained SuPAIR run.

For the test scenes of each true count, the boxes q proposes (z_where at its mean) are
scored for n = found and n = found - 1 objects (paper eq. 9's joint log p(x, z | n)), and
the difference is split into the box's object term (area-scaled, eq. 7), its overlap
log-prior, the background's gain from the pixels the box cuts out, and the count prior.
A split (one object, two boxes) is paid for by whichever of these is positive.

With ``--missed``, the question of the one-count plateau: on the two-object test scenes,
box 1 is q's and box 2 is put on the centre of the true object that box 1 does not cover
(its drawn box; box 1's aspect, a range of widths), and n = 2 is scored against n = 1. A
positive total means the model would gain from the box that q never proposes.

  python experiments/count_terms.py --run_dir=/tmp/screen/noisy_mnist_fixed_seed3 \
      --mnist_dir=../shared/mnist --test_scenes=2000 [--missed]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from datasets.core import load_dataset  # noqa: E402
from experiments.run_model import load_model  # noqa: E402
from supair_tf.generation import boxes_from_where  # noqa: E402

flags.DEFINE_string('run_dir', None, 'a SuPAIR run folder with a checkpoint', required=True)
flags.DEFINE_string('data_dir', '~/.cache/supair', 'built data sets')
flags.DEFINE_string('mnist_dir', None, 'MNIST IDX files')
flags.DEFINE_integer('test_scenes', 2000, 'first N test scenes')
flags.DEFINE_boolean('missed', False, 'score a second box on the object q leaves out')
FLAGS = flags.FLAGS


def centres(boxes):
    """(x, y) centres of boxes (y0, x0, y1, x1) ``[..., 4]``."""
    return np.stack([boxes[..., 1] + boxes[..., 3], boxes[..., 0] + boxes[..., 2]], -1) / 2


def missed_object_gain(model, images, counts, boxes, path):
    """Prints what a second box on the object q's first box leaves out would gain."""
    a = model.config.patch_size
    two, two_boxes = images[counts == 2], boxes[counts == 2]
    t = model.scene_terms(tf.constant(two), sample=False)
    found = np.sum(t.z_pres.numpy() >= 0.5, axis=1)
    z_where = t.z_where.numpy()
    first = centres(boxes_from_where(t.z_where[:, 0], a).numpy())    # box 1's centre
    true = centres(two_boxes[:, :2])                                 # [b, 2, (x, y)]
    far = np.argmax(np.linalg.norm(true - first[:, None], axis=2), axis=1)
    other = true[np.arange(len(two)), far]
    aspect = z_where[:, 0, 1] / z_where[:, 0, 0]
    widths = ' '.join(f'{w:.2f}' for w in z_where[:, :, 0].mean(axis=0))
    print(f'{FLAGS.run_dir} at {os.path.basename(path)}: {len(two)} two-object scenes, '
          f'found {np.bincount(found, minlength=model.config.steps + 1).tolist()}; '
          f'q\'s mean width / A by step {widths}')
    print('n=2 against n=1 with box 2 on the missed object (nats per scene, means)')
    print('found scenes width | object term | overlap log-prior | background gain | count prior '
          '| total | share > 0')
    for n in (1, 2):
        keep = found == n
        if keep.sum() < 10:
            continue
        for width in (0.3, 0.4, 0.5, 0.6):
            w = z_where[keep].copy()
            w[:, 1] = np.stack([np.full(keep.sum(), width), width * aspect[keep],
                                other[keep, 0] - a * width / 2,
                                other[keep, 1] - a * width * aspect[keep] / 2], axis=1)
            b = model.box_terms(tf.constant(two[keep]), tf.constant(w, tf.float32))
            o, lp = b.object_ll.numpy()[:, 1], b.overlap_lp.numpy()[:, 1]
            g = b.bg_ll.numpy()[:, 2] - b.bg_ll.numpy()[:, 1]
            total = o + lp + g - model.config.count_decay
            print(f'{n} {keep.sum():6d} {width:.1f} | {o.mean():9.1f} | {lp.mean():8.2f} | '
                  f'{g.mean():9.1f} | {-model.config.count_decay:5.2f} | {total.mean():8.1f} | '
                  f'{np.mean(total > 0):.2f}')


def main(_):
    model, settings, path = load_model(FLAGS.run_dir)
    _, test = load_dataset(settings['dataset'], FLAGS.data_dir, FLAGS.mnist_dir,
                           seed=settings['data_seed'], download=False)
    images, true = test.images[:FLAGS.test_scenes], test.counts[:FLAGS.test_scenes]
    if FLAGS.missed:
        missed_object_gain(model, images, true, test.boxes[:FLAGS.test_scenes], path)
        return
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
