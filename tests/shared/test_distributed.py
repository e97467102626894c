"""tf.distribute: a mirrored step over two logical CPU devices equals one device's step."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = """
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices('CPU')[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from supair_tf import PRESETS, Supair
from shared.training import make_optimizer, make_train_step

config = PRESETS['sprites'].replace(batch_size=8)
strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
with strategy.scope():
    mirrored = Supair(config, seed=3)
single = Supair(config, seed=3)
for mine, theirs in zip(single.model_variables, mirrored.model_variables):
    mine.assign(theirs.numpy())
# Adam divides by sqrt(v) + epsilon: with the reference's epsilon 1e-8 a parameter whose
# gradient is ~1e-9 moves by a good part of the learning rate, so rounding differences in
# such gradients (the two devices sum in another order) would dominate the comparison.
# A large epsilon keeps every step proportional to its gradient, which is what is compared.
with strategy.scope():
    mirrored_adam = make_optimizer(mirrored, epsilon=1.0)
single_adam = make_optimizer(single, epsilon=1.0)
before = [v.numpy() for v in single.model_variables]
images = np.random.default_rng(0).uniform(0, 1, (8, 50, 50, 1)).astype(np.float32)
step = make_train_step(mirrored, mirrored_adam, strategy)
single_step = make_train_step(single, single_adam)
assert strategy.num_replicas_in_sync == 2
for _ in range(2):
    loss_mirrored = float(step(images))
    loss_single = float(single_step(images))
    print('losses', loss_single, loss_mirrored)
    assert abs(loss_single - loss_mirrored) <= 1e-4 * abs(loss_single), (loss_single, loss_mirrored)
worst = max(float(np.max(np.abs(a.numpy() - b.numpy())))
            for a, b in zip(single.model_variables, mirrored.model_variables))
moved = max(float(np.max(np.abs(a.numpy() - b))) for a, b in zip(single.model_variables, before))
print('largest parameter difference after two steps', worst, 'largest change', moved)
assert worst < 1e-4 and moved > 1e-3
print('OK')
"""


def test_mirrored_step_over_two_cpu_devices_matches_one_device():
    result = subprocess.run([sys.executable, '-c', SCRIPT], capture_output=True, text=True,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', PYTHONPATH=ROOT),
                            timeout=600)
    assert result.returncode == 0 and 'OK' in result.stdout, result.stdout + result.stderr
