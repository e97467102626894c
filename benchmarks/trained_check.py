"""reference_check at trained parameters: trains our model and, every few steps, writes its
current parameters into the authors' graph and compares the two on the next batch (the
per-scene ELBO and every parameter group's gradient, with the same z_where noise).

reference_check compares the two at initial parameters only; a difference that shows only
once a model has learned something (a clipped box, a saturated variance, a count stuck at
one) would not show there. Training and the start are original_training's: the original's
region graphs and the stored batch order; ``--start=original`` begins from the original's own
initial values of ``--seed``.

    python benchmarks/trained_check.py --original=PATH/TO/supair/src --dataset=noisy_mnist \\
        --seed=0 --start=original --check_steps=0,234,702,1170

Not run by CI; the original is never committed here.
"""

import os
import sys

import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import original_training as harness  # noqa: E402  (its flags: original, dataset, seed, ...)
import reference_check as rc  # noqa: E402

from datasets import load_dataset  # noqa: E402
from supair_tf import PRESETS, Supair  # noqa: E402
from supair_tf.training import make_optimizer, make_train_step  # noqa: E402

flags.DEFINE_list('check_steps', ['0', '234', '702', '1170'],
                  'training steps of ours after which both are compared')
FLAGS = flags.FLAGS


def main(argv):
    del argv
    if not FLAGS.original or not os.path.exists(os.path.join(FLAGS.original, 'model.py')):
        sys.exit('error: pass --original=PATH, the src/ folder of a stelzner/supair checkout')
    config = PRESETS[FLAGS.dataset]
    FLAGS.batch = config.batch_size
    original, session, t, _ = harness.build_original(config)
    ours = Supair(config.replace(structure_seed=FLAGS.seed), seed=FLAGS.seed,
                  graphs=(rc.our_graph(original.obj_spn), rc.our_graph(original.bg_spn)))
    groups = rc.parameter_groups(ours, original, t['variables'])
    if FLAGS.start == 'original':
        rc.load_into_ours(groups, session)
    step = make_train_step(ours, make_optimizer(ours))
    train, _ = load_dataset(FLAGS.dataset, data_dir=FLAGS.data_dir, mnist_dir=FLAGS.mnist_dir,
                            seed=42)
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
        theirs_elbo, theirs_grads = session.run(
            [t['per_scene'], t['gradients']], {t['scenes']: images, t['noise']: noise})
        theirs_grads = {v.name: g for v, g in zip(t['variables'], theirs_grads, strict=True)}
        results.append((done, *rc.compare(f'{FLAGS.dataset} after {done} steps', groups, ours,
                                          images, noise, theirs_elbo, theirs_grads)))
    print('worst relative differences (ELBO; gradient group, the closer of our two paths):')
    for done, elbo_rel, grad_rel in results:
        print(f'  after {done:5d} steps  {elbo_rel:.2e}  {grad_rel:.2e}')


if __name__ == '__main__':
    app.run(main)
