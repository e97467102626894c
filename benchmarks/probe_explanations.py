"""Diagnosis: does a trained model score its own boxes above the ground-truth box?

    SUPAIR_MNIST_DIR=../shared/mnist python benchmarks/probe_explanations.py RUN_DIR DATASET

On the first 300 one-object test scenes, compares log p(x, z | N = n) under the trained
SPNs for the model's own boxes and count with that for the single ground-truth box. On
the scenes among them that the model counts as two (a split), it also scores one box
alone: the model's first box, the ground-truth box, and the smallest box around both of
the model's boxes (width and height capped by the preset's largest scale): does the
trained generative model itself prefer the split, or only the inference net?
"""

import os
import sys

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from datasets import load_dataset
from supair_tf import PRESETS, Supair
from supair_tf.elbo import log_joint_by_count
from supair_tf.model import boxes_from_where


def score(model, scenes, z_where):
    """log p(x, z | N = n) ``[b, steps + 1]``, object terms ``[b, steps]``, background
    ``[b, steps + 1]``, for scenes ``[b, H, W, C]`` and boxes ``z_where [b, steps, 4]``."""
    t = model.box_terms(scenes, tf.constant(z_where, tf.float32))
    joint = log_joint_by_count(t.object_ll + t.overlap_lp, t.bg_ll, model.count_prior)
    return joint.numpy(), t.object_ll.numpy(), t.bg_ll.numpy()


def main(run_dir, name):
    tf.config.threading.set_intra_op_parallelism_threads(1)
    model = Supair(PRESETS[name].replace(background_model='nobg' not in run_dir))
    checkpoint = tf.train.latest_checkpoint(os.path.join(run_dir, 'checkpoints'))
    tf.train.Checkpoint(model=model).restore(checkpoint).expect_partial()
    _, test = load_dataset(name, mnist_dir=os.environ.get('SUPAIR_MNIST_DIR'))
    one = np.nonzero(test.counts == 1)[0][:300]
    images = test.images[one]

    found = model.detect(images)
    own, own_n = found['z_where'].numpy(), found['count'].numpy()
    y0, x0, y1, x1 = np.moveaxis(test.boxes[one, 0], -1, 0)
    truth = own.copy()  # steps after the first are not counted with n = 1
    size = model.config.patch_size
    truth[:, 0] = np.stack([(x1 - x0) / size, (y1 - y0) / size, x0, y0], -1)

    joint_own, object_own, bg_own = score(model, images, own)
    joint_truth, object_truth, bg_truth = score(model, images, truth)
    joint_own = joint_own[np.arange(len(one)), own_n]
    print('model counts on one-object scenes:', np.bincount(own_n, minlength=4))
    print(f'mean log p(x, z | n): own boxes and count {joint_own.mean():.1f}, '
          f'ground-truth box with n = 1 {joint_truth[:, 1].mean():.1f}')
    higher = np.mean(joint_truth[:, 1] > joint_own)
    print(f'share where the ground truth scores higher: {higher:.3f}')
    print('object term per box, own steps 0 and 1:', object_own[:, :2].mean(0).round(1),
          f' ground truth: {object_truth[:, 0].mean():.1f}')
    print(f'background log-likelihood: own n = 1 {bg_own[:, 1].mean():.1f}, n = 2 '
          f'{bg_own[:, 2].mean():.1f}; ground truth n = 1 {bg_truth[:, 1].mean():.1f}')
    print('box width sx, own steps 0 and 1:', own[:, :2, 0].mean(0).round(2),
          f' ground truth: {truth[:, 0, 0].mean():.2f}')
    split = own_n == 2
    if split.any():
        compare_single_boxes(model, images[split], own[split], truth[split],
                             joint_own[split])


def compare_single_boxes(model, images, own, truth, joint_split):
    """Mean log p(x, z | N) of the split (N = 2) against single boxes with N = 1."""
    c = model.config
    y0, x0, y1, x1 = np.moveaxis(boxes_from_where(own[:, :2], c.patch_size).numpy(), -1, 0)
    top, left = y0.min(1), x0.min(1)
    cap = c.max_obj_scale * c.patch_size
    height = np.minimum(y1.max(1) - top, cap * c.max_aspect)
    width = np.minimum(x1.max(1) - left, cap)
    union = own.copy()
    union[:, 0] = np.stack([width / c.patch_size, height / c.patch_size, left, top], -1)
    singles = {'own first box': own, 'ground-truth box': truth, 'box around both': union}
    print(f'on the {len(images)} of them counted as two: split (N = 2) {joint_split.mean():.1f}')
    for name, z_where in singles.items():
        joint = score(model, images, z_where)[0][:, 1]
        print(f'  {name:16s} with N = 1: {joint.mean():.1f}, above the split in '
              f'{np.mean(joint > joint_split):.3f}')


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit('usage: probe_explanations.py RUN_DIR DATASET')
    main(sys.argv[1], sys.argv[2])
