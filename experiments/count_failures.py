"""Where a trained SuPAIR run counts wrong: its scenes of one true count that q counts
wrong, drawn with q's boxes, and whether the model itself would count them right.

q's count is the number of steps with z_pres >= 0.5 (as `detect`). The model's count is
the n that maximises log p(x, z_1..n, N = n) (paper eq. 9's joint, z_where at q's means):
the generative model's own choice among q's first n boxes, which SuPAIR can score
exactly for every n. Where both are wrong, the boxes are: a better presence alone cannot
mend the count.

    python experiments/count_failures.py --run_dir=RUN --mnist_dir=../shared/mnist \
        --count=2 --out=docs/interpolation_failures.png
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from datasets.core import SplitCounts, load_dataset  # noqa: E402
from experiments.run_model import load_model  # noqa: E402
from supair_tf.elbo import log_joint_by_count  # noqa: E402
from supair_tf.generation import boxes_from_where  # noqa: E402

FLAGS = flags.FLAGS
COLOURS = ((255, 64, 64), (64, 255, 64), (64, 224, 255), (255, 224, 64), (255, 64, 255))


def define_flags():
    """The script's flags, defined only when it runs (run.py's share names with them)."""
    flags.DEFINE_string('run_dir', None, 'a SuPAIR run folder with a checkpoint', required=True)
    flags.DEFINE_string('data_dir', '~/.cache/supair', 'built data sets')
    flags.DEFINE_string('mnist_dir', None, 'MNIST IDX files')
    flags.DEFINE_integer('test_scenes', 4000, 'first N test scenes')
    flags.DEFINE_integer('count', 2, 'the true count whose failures are drawn')
    flags.DEFINE_integer('shown', 24, 'failures drawn')
    flags.DEFINE_string('out', None, 'the picture (.png); none: figures only')


def counts_of(model, images, batch=250):
    """q's count, the model's count (argmax over n of the joint) ``[n]`` each, z_pres and
    the boxes (y0, x0, y1, x1) ``[n, steps, 4]``."""
    out = {'q': [], 'model': [], 'z_pres': [], 'boxes': []}
    for start in range(0, len(images), batch):
        t = model.scene_terms(tf.constant(images[start:start + batch]), sample=False)
        joint = log_joint_by_count(t.boxes.object_ll + t.boxes.overlap_lp, t.boxes.bg_ll,
                                   model.count_prior)
        out['q'].append(np.sum(t.z_pres.numpy() >= 0.5, axis=1))
        out['model'].append(np.argmax(joint.numpy(), axis=1))
        out['z_pres'].append(t.z_pres.numpy())
        out['boxes'].append(boxes_from_where(t.z_where, model.config.patch_size).numpy())
    return {k: np.concatenate(v) for k, v in out.items()}


def draw(images, z_pres, boxes, path, scale=3, per_row=8):
    """The scenes with every box (coloured by step if present, grey if not) and z_pres."""
    from PIL import Image, ImageDraw
    tiles = []
    for image, pres, box in zip(images, z_pres, boxes, strict=True):
        grey = (np.clip(image[..., 0], 0, 1) * 255).astype(np.uint8)
        tile = Image.fromarray(grey).convert('RGB').resize(
            (grey.shape[1] * scale, grey.shape[0] * scale), Image.NEAREST)
        pen = ImageDraw.Draw(tile)
        for k, (p, (y0, x0, y1, x1)) in enumerate(zip(pres, box * scale, strict=True)):
            colour = COLOURS[k % len(COLOURS)] if p >= 0.5 else (128, 128, 128)
            pen.rectangle([x0, y0, x1, y1], outline=colour)
            pen.text((2, 2 + 10 * k), f'{p:.2f}', fill=colour)
        tiles.append(np.asarray(tile))
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % per_row)
    rows = [np.concatenate(tiles[r:r + per_row], 1) for r in range(0, len(tiles), per_row)]
    Image.fromarray(np.concatenate(rows, 0)).save(path)


def main(_):
    model, settings, path = load_model(FLAGS.run_dir)
    split = (SplitCounts(tuple(settings['train_counts']), tuple(settings['heldout_counts']))
             if settings.get('train_counts') else None)
    _, test = load_dataset(settings['dataset'], FLAGS.data_dir, FLAGS.mnist_dir,
                           seed=settings['data_seed'], download=False, split_counts=split)
    images, true = test.images[:FLAGS.test_scenes], test.counts[:FLAGS.test_scenes]
    found = counts_of(model, images)
    print(f'{FLAGS.run_dir} at {os.path.basename(path)}: {len(images)} test scenes')
    print('true count | scenes | q right | model right | both wrong | q found (0..N_max)')
    for count in np.unique(true):
        at = true == count
        q, m = found['q'][at] == count, found['model'][at] == count
        spread = np.bincount(found['q'][at], minlength=model.config.steps + 1).tolist()
        print(f'{count} | {at.sum()} | {q.mean():.3f} | {m.mean():.3f} | '
              f'{np.mean(~q & ~m):.3f} | {spread}')
    if FLAGS.out:
        wrong = np.flatnonzero((true == FLAGS.count) & (found['q'] != true))[:FLAGS.shown]
        draw(images[wrong], found['z_pres'][wrong], found['boxes'][wrong], FLAGS.out)
        print(f'{len(wrong)} scenes of {FLAGS.count} counted wrong: {FLAGS.out}')


if __name__ == '__main__':
    define_flags()
    app.run(main)
