"""The benchmarks still run against the current model interface.

Benchmarks are not run by CI, so an interface change can break one unnoticed (session 6
found train_bench passing [b, H, W] scenes after the channel axis came in). This runs the
staged loss of ``benchmarks/train_bench.py`` on two scenes, in a fresh process (the
benchmarks set thread counts at import), and checks that each stage reaches the part of
the model it claims to time.
"""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

STAGES = """
import json, sys
sys.path.insert(0, 'benchmarks')
import train_bench
from common import np, tf
from supair_tf import PRESETS, Supair
model = Supair(PRESETS['sprites'], seed=0)
images = tf.constant(np.random.default_rng(0).uniform(0, 1, (2, 50, 50, 1)), tf.float32)
report = {}
for upto in range(1, 5):
    with tf.GradientTape() as tape:
        loss = train_bench.staged_loss(model, images, upto)
    grads = tape.gradient(loss, model.model_variables)
    report[upto] = {'loss': float(loss),
                    'reached': [v.path for v, g in zip(model.model_variables, grads)
                                if g is not None]}
parts = {'object': [v.path for v in model.object_spn.trainable_variables],
         'background': [v.path for v in model.background_spn.trainable_variables],
         'inference': [v.path for v in model.inference.trainable_variables]}
print(json.dumps({'stages': report, 'parts': parts}))
"""


def test_train_bench_stages_reach_the_parts_they_time():
    env = dict(os.environ, BENCH_THREADS='1')
    done = subprocess.run([sys.executable, '-c', STAGES], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    stages, parts = out['stages'], out['parts']
    reached = {int(k): set(v['reached']) for k, v in stages.items()}
    for k, stage in stages.items():
        assert abs(stage['loss']) < float('inf'), k
    inference, objects, background = (set(parts[p]) for p in ('inference', 'object',
                                                                'background'))
    # Stage 1 is the inference net alone; 2 adds no weights (transformer, masks); 3 adds
    # the object SPN, 4 the background SPN.
    assert reached[1] == inference
    assert reached[2] == inference
    assert reached[3] == inference | objects
    assert background <= reached[4] and objects <= reached[4]
