"""The benchmarks still run against the current model interface, and what they time
against is the same computation.

Benchmarks are not run by CI, so an interface change could break one unnoticed. This
builds ``benchmarks/train_bench.py``'s two models in a fresh process (the benchmarks set
thread counts at import) and checks that the plain step it compares with computes the
model's loss and gradients.
"""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = """
import json, sys
sys.path.insert(0, 'benchmarks')
import train_bench
from common import np, tf
fast, plain = train_bench.models(jit_compile=False)
images = tf.constant(np.random.default_rng(0).uniform(0, 1, (2, 50, 50, 1)), tf.float32)
noise = fast.where_noise(2, 0)
(fast_loss, fast_grads), (plain_loss, plain_grads) = (
    m.loss_and_gradients(images, noise) for m in (fast, plain))
worst = max(float(np.abs(f - p).max() / max(np.abs(p).max(), 1e-30))
            for f, p in zip(fast_grads, plain_grads))
print(json.dumps({'losses': [float(fast_loss), float(plain_loss)], 'worst': worst,
                  'variables': len(fast_grads)}))
"""


def test_the_plain_step_train_bench_compares_with_computes_the_same_loss():
    env = dict(os.environ, BENCH_THREADS='1')
    done = subprocess.run([sys.executable, '-c', SCRIPT], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    fast, plain = out['losses']
    assert abs(fast - plain) <= 1e-5 * abs(plain)
    assert out['worst'] < 1e-3 and out['variables'] == 14


def test_the_scale_benchmark_measures_a_point_of_each_model_in_its_own_process():
    for model in ('supair', 'air'):
        done = subprocess.run(
            [sys.executable, 'benchmarks/scale_bench.py', f'--one={model},2,40', '--batch=2',
             '--repeats=1'], cwd=ROOT, env=dict(os.environ, BENCH_THREADS='1'),
            capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        point = json.loads(done.stdout.strip().splitlines()[-1])
        assert (point['model'], point['steps'], point['size']) == (model, 2, 40)
        # (a small model may stay under the imports' own peak: its part is then 0)
        assert point['seconds'] > 0 and point['rss_mib'] >= point['model_mib'] >= 0
