"""AIR's training step against Pyro's AIR step, and SuPAIR's epoch against AIR's, in one run.

    python benchmarks/air_bench.py [--pyro_air=PATH/examples/air] [--repeats=9]

Both AIR steps at batch 64 on the same Multi-MNIST-like scenes (random digits-free
sparse scenes: the steps do the same work whatever the pixels), the same threads
(BENCH_THREADS, default 2, for TensorFlow and torch alike): ours is air_tf's compiled
step with its two Adams; Pyro's is ``SVI.step`` with TraceGraph_ELBO and per-parameter
Adam, as its main.py trains (PATH: a checkout of pyro-ppl/pyro; needs
requirements-crosscheck.txt; without --pyro_air only our two models are timed). An epoch
is a step's median times the steps of 60,000 training scenes: 234 of SuPAIR's (batch
256), 937 of AIR's (batch 64).
"""

import argparse  # noqa: I001  (common must come first: it puts the project on the path)
import os
import sys

from common import interleaved_medians, np, tf

from air_tf import PRESETS as AIR_PRESETS
from air_tf import Air
from shared.training import make_optimizer, make_optimizers, make_train_step
from supair_tf import PRESETS, Supair

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'crosscheck'))


def scenes(n, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 1, (n, 50, 50, 1)) * (rng.uniform(size=(n, 50, 50, 1)) < 0.15)
    return images.astype(np.float32)


def pyro_step(folder, config, data, batch, threads):
    """``step()``: one SVI step of Pyro's AIR on ``data`` (a [N, 50, 50] array)."""
    import pyro
    import pyro.optim as optim
    import torch
    from pyro.infer import SVI, TraceGraph_ELBO
    from pyro_air import import_pyro_air, pyro_model

    torch.set_num_threads(threads)
    AIR, make_prior = import_pyro_air(folder)
    pyro.set_rng_seed(0)
    model = pyro_model(AIR, config)
    prior = make_prior(config.z_pres_prior)
    adam = optim.Adam(lambda name: {'lr': config.baseline_learning_rate if 'bl_' in name
                                    else config.learning_rate})
    svi = SVI(model.model, model.guide, adam, loss=TraceGraph_ELBO())
    data = torch.from_numpy(data[..., 0])
    return lambda: svi.step(data, batch_size=batch, z_pres_prior_p=prior)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--pyro_air', default=None, help="folder of Pyro's AIR example")
    parser.add_argument('--repeats', type=int, default=9)
    args = parser.parse_args()
    threads = int(os.environ.get('BENCH_THREADS', 2))
    data = scenes(1024)
    air_config = AIR_PRESETS['mnist'].replace(train_scenes=len(data))
    air = Air(air_config)
    air_step = make_train_step(air, make_optimizers(air))
    supair = Supair(PRESETS['mnist'].replace(procedure='paper'))  # as recorded
    supair_step = make_train_step(supair, make_optimizer(supair))
    air_batch, supair_batch = tf.constant(data[:64]), tf.constant(data[:256])
    ours, theirs, supair_name = ('our AIR step (batch 64)', "Pyro's AIR step (batch 64)",
                                 'SuPAIR step (batch 256)')
    steps = {ours: lambda: air_step(air_batch).numpy(),
             supair_name: lambda: supair_step(supair_batch).numpy()}
    if args.pyro_air:
        steps[theirs] = pyro_step(args.pyro_air, air_config, data, 64, threads)
    t = interleaved_medians(steps, args.repeats)
    for name, seconds in t.items():
        print(f'{name}: median {1e3 * seconds:.1f} ms ({threads} threads)')
    if args.pyro_air:
        print(f"our AIR step is {t[theirs] / t[ours]:.1f}x faster than Pyro's")
    air_epoch, supair_epoch = 937 * t[ours], 234 * t[supair_name]
    print(f'an epoch of 60,000 scenes: SuPAIR {supair_epoch:.0f} s, our AIR {air_epoch:.0f} s; '
          f'SuPAIR takes {100 * (1 - supair_epoch / air_epoch):.0f}% less time per epoch')


if __name__ == '__main__':
    main()
