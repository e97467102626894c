"""The compiled train step timed on its own, back to back, as a run calls it.

    [XLA_FLAGS=...] python benchmarks/step_alone.py [--repeats=12]

Sprites preset, batch 256 of uniform random scenes, seed 0: compiles the step, then times
``--repeats`` calls and prints the median of all but the first two and the fastest. Run
it once per setting in separate processes (XLA_FLAGS and TF_ENABLE_ONEDNN_OPTS are read
at start-up), alternating the settings: the spread between processes is large here.
"""

import argparse
import os
import time

from common import np, tf
from supair_tf import PRESETS, Supair
from supair_tf.training import make_optimizer, make_train_step


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--repeats', type=int, default=12)
    args = parser.parse_args()
    images = tf.constant(np.random.default_rng(0).uniform(0, 1, (256, 50, 50, 1)), tf.float32)
    model = Supair(PRESETS['sprites'], seed=0)
    step = make_train_step(model, make_optimizer(model))

    def call():
        start = time.perf_counter()
        tf.nest.map_structure(lambda t: t.numpy(), step(images))
        return time.perf_counter() - start

    compile_seconds = call()
    times = [call() for _ in range(args.repeats)]
    print(f'{os.environ.get("XLA_FLAGS") or "default XLA flags"}: compile + first step '
          f'{compile_seconds:.1f} s, median {1e3 * np.median(times[2:]):.0f} ms, '
          f'fastest {1e3 * min(times):.0f} ms')


if __name__ == '__main__':
    main()
