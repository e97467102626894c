"""Test-wide settings: quiet TensorFlow, two threads (the CI machine has two cores)."""

import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow as tf

from supair_tf.runtime import configure

configure(2)
tf.config.threading.set_inter_op_parallelism_threads(2)
