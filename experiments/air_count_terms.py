"""Why a trained AIR counts one box too many: its generative model's own score of the extra
box, term by term.

For the test scenes of each true count, the guide's greedy pass (z_pres >= 0.5, z_where
and z_what at q's means) finds n objects. The joint log p(x, z) (Eslami et al. 2016,
section 2: the count prior, each object's z_where and z_what priors, and the pixels'
Normal(canvas, sd)) is scored with all n boxes and with the last one left out, and the
difference is split into its terms: what the pixels gain, the count prior's price, and
the box's z_where and z_what prior terms. Beside them, medians: the last box's largest
IoU with another of the scene's boxes, and its share of the brightness the boxes draw.

Leaving a box out keeps the other boxes where q put them, so a split object (two boxes,
each drawing part) would look worth its box only because the other box was fit to share.
``--refit`` answers that: from q's boxes, z_where and z_what of the n - 1 and of the n
boxes are each fit to the scene by gradient ascent on log p(x, z | n) (Adam), and the two
optima are compared; where n is one more than the true count, the n - 1 boxes are also
fit from the true objects' boxes, and the better of the two n - 1 fits counts. If n boxes
still score higher, the learned model prefers them: the count is the model's, not the
guide's.

  python experiments/air_count_terms.py --run_dir=/root/air_runs/air_sprites_seed0 \
      --test_scenes=1000 [--refit]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from air_tf.densities import normal_log_prob  # noqa: E402
from air_tf.model import count_prior  # noqa: E402
from air_tf.transformer import image_to_window, window_boxes, window_to_image  # noqa: E402
from datasets.core import load_dataset  # noqa: E402
from experiments.run_model import load_model  # noqa: E402
from shared.evaluation import box_iou  # noqa: E402

flags.DEFINE_string('run_dir', None, 'an AIR run folder with a checkpoint', required=True)
flags.DEFINE_string('data_dir', '~/.cache/supair', 'built data sets')
flags.DEFINE_string('mnist_dir', None, 'MNIST IDX files')
flags.DEFINE_integer('test_scenes', 1000, 'first N test scenes')
flags.DEFINE_boolean('refit', False, 'fit z to the scene for n - 1 and n boxes, compare')
flags.DEFINE_integer('refit_steps', 300, 'Adam steps of each fit')
FLAGS = flags.FLAGS


def joint_terms(model, images, z_where, z_what, present):
    """log p(x, z) of ``images [b, H, W, 1]`` under boxes ``z_where [b, k, 3]``, codes
    ``z_what [b, k, Z]`` and ``present [b, k]`` (1 for the first n of each scene), as
    ``(pixels [b], count prior [b], where prior [b], what prior [b])``."""
    c = model.config
    b = tf.shape(images)[0]
    k = c.steps
    canvas = model.render([present[:, t] for t in range(k)],
                          [z_where[:, t] for t in range(k)],
                          [z_what[:, t] for t in range(k)])
    pixels = normal_log_prob(tf.reshape(images, [b, -1]), tf.reshape(canvas, [b, -1]),
                             c.likelihood_sd)
    n = tf.cast(tf.reduce_sum(present, axis=1), tf.int32)
    count = tf.gather(tf.math.log(tf.constant(count_prior(c.z_pres_prior, k), tf.float32)), n)
    where = tf.reduce_sum(present * normal_log_prob(z_where, model.where_prior_loc,
                                                    model.where_prior_sd), axis=1)
    what = tf.reduce_sum(present * normal_log_prob(z_what, 0.0, 1.0), axis=1)
    return pixels, count, where, what


def greedy(model, images):
    """q's greedy pass: ``(z_where [b, k, 3], z_what [b, k, Z], present [b, k])``."""
    steps = model.guide(tf.constant(images))
    stack = lambda f: tf.stack([f(s) for s in steps], 1)  # noqa: E731
    return (stack(lambda s: s.state.z_where), stack(lambda s: s.state.z_what),
            stack(lambda s: s.state.z_pres))


def refit(model, images, z_where, z_what, present, steps):
    """z_where and z_what fit to ``images`` for the given ``present`` by Adam on
    log p(x, z | n) (the count fixed); returns the fitted terms."""
    where = tf.Variable(z_where)
    what = tf.Variable(z_what)
    optimizer = tf.keras.optimizers.Adam(0.02)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            total = tf.add_n(joint_terms(model, images, where, what, present))
            loss = -tf.reduce_sum(total)
        grads = tape.gradient(loss, [where, what])
        optimizer.apply_gradients(zip(grads, [where, what], strict=True))

    for _ in range(steps):
        step()
    return [t.numpy() for t in joint_terms(model, images, where, what, present)]


def truth_start(model, images, boxes, counts):
    """A start for the fit on the true objects: each true box ``(y0, x0, y1, x1)`` as the
    square window around it (air_tf.transformer.window_boxes inverted) and q's encoder
    mean at that window; ``(z_where, z_what, present)`` as ``greedy`` returns them."""
    c = model.config
    height, width = c.scene_height, c.scene_width
    side = np.maximum(boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1])
    scale = width / np.maximum(side, 1.0)
    x = -scale * ((boxes[..., 1] + boxes[..., 3]) / width - 1.0)
    y = -scale * ((boxes[..., 0] + boxes[..., 2]) / height - 1.0)
    k = c.steps
    z_where = np.stack([scale, x, y], -1)[:, :k].astype(np.float32)
    z_where = np.pad(z_where, [[0, 0], [0, k - z_where.shape[1]], [0, 0]],
                     constant_values=1.0)
    present = (np.arange(k)[None] < counts[:, None]).astype(np.float32)
    z_what = []
    for t in range(k):
        window = image_to_window(images, tf.constant(z_where[:, t]), c.window_size)
        encoded = model.encode(tf.reshape(window, [-1, c.window_size ** 2]))
        z_what.append(encoded[:, :c.z_what_size].numpy())
    return z_where, np.stack(z_what, 1), present


def last_box_shape(model, z_where, z_what, present):
    """Per scene ``[b]``: the largest IoU of the last present box with another present box
    (0 for one box), and the share of the canvas's brightness that the last box draws."""
    c = model.config
    boxes = window_boxes(tf.constant(z_where), c.scene_height, c.scene_width).numpy()
    n = present.sum(axis=1).astype(int)
    last = np.maximum(n - 1, 0)
    rows = np.arange(len(n))
    drawn = np.stack([window_to_image(model.decode_windows(z_what[:, t]), z_where[:, t],
                                      c.scene_height, c.scene_width).numpy().sum(axis=(1, 2))
                      for t in range(c.steps)], 1) * present
    share = drawn[rows, last] / np.maximum(drawn.sum(axis=1), 1e-6)
    mine = boxes[rows, last]
    overlap = np.zeros(len(n))
    for t in range(c.steps - 1):
        overlap = np.where(t < last, np.maximum(overlap, box_iou(mine, boxes[:, t])), overlap)
    return overlap, share


def drop_last(present):
    """``present`` with each scene's last present box removed (none stays none)."""
    n = present.sum(axis=1).astype(int)
    out = present.copy()
    rows = np.nonzero(n > 0)[0]
    out[rows, n[rows] - 1] = 0.0
    return out


def main(_):
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    model, settings, path = load_model(FLAGS.run_dir)
    if settings.get('model') != 'air':
        raise SystemExit(f'{FLAGS.run_dir} is not an AIR run')
    _, test = load_dataset(settings['dataset'], FLAGS.data_dir, FLAGS.mnist_dir,
                           seed=settings['data_seed'], download=False)
    images, true = test.images[:FLAGS.test_scenes], test.counts[:FLAGS.test_scenes]
    rows = []
    for start in range(0, len(images), 250):
        batch = tf.constant(images[start:start + 250])
        z_where, z_what, present = (t.numpy() for t in greedy(model, batch))
        fewer = drop_last(present)
        with_n = np.stack([t.numpy() for t in joint_terms(model, batch, z_where, z_what,
                                                           present)], 1)
        without = np.stack([t.numpy() for t in joint_terms(model, batch, z_where, z_what,
                                                            fewer)], 1)
        found = present.sum(axis=1)
        keep = found > 0
        if FLAGS.refit:
            fit_n = np.stack(refit(model, batch, z_where, z_what, present,
                                   FLAGS.refit_steps), 1)
            fit_fewer = np.stack(refit(model, batch, z_where, z_what, fewer,
                                       FLAGS.refit_steps), 1).sum(axis=1)
            # Where q finds one too many, the n - 1 boxes also start on the true objects.
            counts = true[start:start + 250]
            t_where, t_what, t_present = truth_start(
                model, batch, test.boxes[start:start + 250], counts)
            fit_truth = np.stack(refit(model, batch, t_where, t_what, t_present,
                                       FLAGS.refit_steps), 1).sum(axis=1)
            best = np.where(counts == found - 1, np.maximum(fit_fewer, fit_truth), fit_fewer)
            fitted = fit_n.sum(axis=1) - best
        else:
            fitted = np.full(len(batch), np.nan)
        overlap, share = last_box_shape(model, z_where, z_what, present)
        for i in np.nonzero(keep)[0]:
            rows.append((true[start + i], found[i], *(with_n[i] - without[i]), fitted[i],
                         overlap[i], share[i]))
    rows = np.array(rows, dtype=np.float64)
    print(f'{FLAGS.run_dir} at {os.path.basename(path)}, {len(images)} test scenes; the last '
          'of n greedy boxes: what n scores above n - 1 in log p(x, z) (nats per scene, means)')
    print('true found scenes | pixels | count prior | where prior | what prior | total | '
          'share > 0 | refit total | refit share > 0 | IoU with a box | brightness share')
    for t_count in sorted(set(rows[:, 0])):
        for n in sorted(set(rows[rows[:, 0] == t_count, 1])):
            sel = rows[(rows[:, 0] == t_count) & (rows[:, 1] == n)]
            if len(sel) < 10:
                continue
            pix, cnt, whe, wha = sel[:, 2:6].mean(axis=0)
            total = sel[:, 2:6].sum(axis=1)
            fit, overlap, share = sel[:, 6], sel[:, 7], sel[:, 8]
            print(f'{int(t_count)} {int(n)} {len(sel):6d} | {pix:7.1f} | {cnt:6.2f} | '
                  f'{whe:6.2f} | {wha:7.1f} | {total.mean():7.1f} | {np.mean(total > 0):.2f} | '
                  f'{np.mean(fit):8.1f} | {np.mean(fit > 0):.2f} | '
                  f'{np.median(overlap):.2f} | {np.median(share):.2f}')


if __name__ == '__main__':
    app.run(main)
