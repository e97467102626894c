"""reference_check at trained parameters: trains our model and, every few steps, writes its
current parameters into the authors' graph and compares the two on the next batch (the
per-scene ELBO and every parameter group's gradient, with the same z_where noise) and on
the first ``--test_scenes`` test scenes (z_pres and the counts).

reference_check compares the two at initial parameters only; a difference that shows only
once a model has learned something (a clipped box, a saturated variance, a count stuck at
one) would not show there. To see where a gap lies, the gradient with respect to the
inference network's output (the 9 numbers per scene and step before the sigmoids: z_pres,
the box mean, its spread) is compared scene by scene: a gap carried by one scene and one
box coordinate is a sampling point on the other side of a pixel edge (the bilinear
sampler's gradient jumps there), a gap spread over every scene would be a difference in
the formula. Training and the start are original_training's: the original's
region graphs and the stored batch order; ``--start=original`` begins from the original's own
initial values of ``--seed``.

    python crosscheck/trained_check.py --original=PATH/TO/supair/src --dataset=noisy_mnist \\
        --seed=0 --start=original --check_steps=0,234,702,1170

Not run by CI; the original is never committed here.
"""

import os
import sys

import numpy as np
import tensorflow as tf
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import original_training as harness  # noqa: E402  (its flags: original, dataset, seed, ...)
import reference_check as rc  # noqa: E402

from datasets import load_dataset  # noqa: E402
from shared.training import make_optimizer, make_train_step  # noqa: E402
from supair_tf import PRESETS  # noqa: E402

flags.DEFINE_list('check_steps', ['0', '234', '702', '1170'],
                  'training steps of ours after which both are compared')
FLAGS = flags.FLAGS
COMPONENTS = ('z_pres', 'sx', 'aspect', 'x', 'y', 'std sx', 'std sy', 'std x', 'std y')


def head_gradient(ours, images, noise):
    """d(-mean ELBO) / d(inference network output) ``[b, steps, 9]`` of our model."""
    head, seen = ours.inference.head, {}
    with tf.GradientTape() as tape:
        def watched(hidden):
            seen['out'] = head(hidden)
            tape.watch(seen['out'])
            return seen['out']
        ours.inference.head = watched
        try:
            loss = -tf.reduce_mean(ours.elbo_graph(tf.constant(images), tf.constant(noise)))
        finally:
            ours.inference.head = head
    return tape.gradient(loss, seen['out']).numpy()


def where_the_gap_lies(mine, theirs):
    """One line: the gap's relative size, the share of it in the worst scene and in the
    worst three, and the worst scene's largest component."""
    gap = mine - theirs
    per_scene = np.sum(gap ** 2, axis=(1, 2))
    order = np.argsort(-per_scene)
    share = np.cumsum(per_scene[order]) / max(per_scene.sum(), 1e-30)
    step, component = np.unravel_index(np.argmax(np.abs(gap[order[0]])), gap.shape[1:])
    return (f'  gradient at the inference output: relative diff '
            f'{np.sqrt(np.sum(gap ** 2) / np.sum(theirs ** 2)):.2e}; scene {order[0]} carries '
            f'{share[0]:.0%} of it (the worst three {share[2]:.0%}), mostly step {step} '
            f'{COMPONENTS[component]}: {theirs[order[0], step, component]:+.4e} original, '
            f'{mine[order[0], step, component]:+.4e} ours')


def main(argv):
    del argv
    config = PRESETS[FLAGS.dataset].replace(procedure='paper')  # the authors' training
    _, session, t, graph, ours, groups = harness.original_and_ours(config)
    with graph.as_default():
        out = [op for op in graph.get_operations() if op.name.split('/')[-1] == 'z'][0]
        out_gradient = tf.gradients(-t['elbo'], out.outputs[0])[0]
    if FLAGS.start == 'original':
        rc.load_into_ours(groups, session)
    step = make_train_step(ours, make_optimizer(ours))
    train, test = load_dataset(FLAGS.dataset, data_dir=FLAGS.data_dir,
                               mnist_dir=FLAGS.mnist_dir, seed=42)
    test = test.images[:FLAGS.test_scenes]
    batch, steps = config.batch_size, len(train) // config.batch_size
    rng = np.random.default_rng(FLAGS.seed)
    checks = sorted(int(k) for k in FLAGS.check_steps)
    results, done = [], 0
    for target in checks:
        while done < target:
            k = done % steps
            step(train.images[k * batch:(k + 1) * batch])
            done += 1
        k = done % steps
        images = train.images[k * batch:(k + 1) * batch]
        noise = rng.standard_normal([batch, 3, 4]).astype(np.float32)
        rc.load_into_original(groups, session)
        theirs_elbo, theirs_grads, theirs_out = session.run(
            [t['per_scene'], t['gradients'], out_gradient],
            {t['scenes']: images, t['noise']: noise})
        theirs_grads = {v.name: g for v, g in zip(t['variables'], theirs_grads, strict=True)}
        results.append((done, *rc.compare(f'{FLAGS.dataset} after {done} steps', groups, ours,
                                          images, noise, theirs_elbo, theirs_grads)))
        print(where_the_gap_lies(head_gradient(ours, images, noise), theirs_out), flush=True)
        theirs_pres = np.concatenate([session.run(t['z_pres'], {t['scenes']: np.pad(
            scenes, [(0, batch - len(scenes)), (0, 0), (0, 0), (0, 0)])})[:len(scenes)]
            for scenes in np.split(test, range(batch, len(test), batch))])
        mine_pres = np.concatenate([ours.detect(scenes).z_pres.numpy() for scenes in
                                    np.split(test, range(batch, len(test), batch))])
        differ = np.sum(np.sum(theirs_pres >= 0.5, 1) != np.sum(mine_pres >= 0.5, 1))
        print(f'  counts of the first {len(test)} test scenes: z_pres within '
              f'{np.max(np.abs(theirs_pres - mine_pres)):.1e}, {differ} counts differ', flush=True)
    print('worst relative differences (ELBO; gradient group, the closer of our two paths):')
    for done, elbo_rel, grad_rel in results:
        print(f'  after {done:5d} steps  {elbo_rel:.2e}  {grad_rel:.2e}')


if __name__ == '__main__':
    app.run(main)
