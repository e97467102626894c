"""Steps per second: one process against two workers (--strategy=multi_worker) on loopback.

    python benchmarks/multi_worker_bench.py [--steps=20] [--batch_size=256]

Runs, one after another: one process with two threads, one process with one thread,
and two worker processes with one thread each talking over 127.0.0.1 (each computes
half of the global batch; the gradients are all-reduced). All take the paper's train
step (XLA, Adam) on the same random scenes and report the median step time after
three warm-up steps. On one 2-core machine the two workers share the cores that one
process would use, so this measures the cost of the all-reduce and the coordination,
not a speed-up; across machines each worker would have its own cores.
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from shared.cluster import loopback_tf_configs

WORKER = """
import json, os, sys, time
threads, batch, steps, mode = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
import numpy as np, tensorflow as tf
from shared.runtime import configure
configure(threads)
from supair_tf import PRESETS, Supair
from shared.cluster import multi_worker_strategy
from shared.training import make_optimizer, make_train_step
strategy = multi_worker_strategy(600) if mode == 'worker' else tf.distribute.get_strategy()
with strategy.scope():
    model = Supair(PRESETS['sprites'].replace(batch_size=batch, procedure='paper'))
    adam = make_optimizer(model)
step = make_train_step(model, adam, strategy if mode == 'worker' else None)
images = np.random.default_rng(0).uniform(0, 1, (batch, 50, 50, 1)).astype(np.float32)
times = []
for k in range(steps + 3):
    began = time.perf_counter()
    float(step(images))
    if k >= 3:
        times.append(time.perf_counter() - began)
print(json.dumps({'median': float(np.median(times))}))
"""


def launch(threads, batch, steps, mode, tf_config=None):
    """A worker process of the script above."""
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL='3')
    if tf_config:
        env['TF_CONFIG'] = tf_config
    return subprocess.Popen([sys.executable, '-c', WORKER, str(threads), str(batch), str(steps),
                             mode], env=env, stdout=subprocess.PIPE, text=True)


def median_of(process):
    """The median step seconds a worker process reports."""
    out, _ = process.communicate()
    if process.returncode:
        sys.exit(f'error: a benchmark process failed (exit {process.returncode})')
    return json.loads(out.strip().splitlines()[-1])['median']


def main():
    """Times the three set-ups and prints steps and scenes per second."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument('--batch_size', type=int, default=256)
    args = parser.parse_args()
    began = time.time()
    results = {}
    for threads in (2, 1):
        results[f'one process, {threads} thread(s)'] = median_of(
            launch(threads, args.batch_size, args.steps, 'single'))
    workers = [launch(1, args.batch_size, args.steps, 'worker', config)
               for config in loopback_tf_configs(2)]
    results['two workers, 1 thread each'] = max(median_of(w) for w in workers)
    print(f'global batch {args.batch_size}, median of {args.steps} steps after 3 warm-up steps:')
    base = results['one process, 2 thread(s)']
    for name, seconds in results.items():
        print(f'  {name:30s} {1e3 * seconds:6.0f} ms/step = {1 / seconds:5.2f} steps/s = '
              f'{args.batch_size / seconds:5.0f} scenes/s ({base / seconds:.2f}x)')
    print(f'wall {time.time() - began:.0f} s')


if __name__ == '__main__':
    main()
