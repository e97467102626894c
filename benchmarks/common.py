"""Shared helpers of the benchmarks: thread settings and an interleaved median timer."""

import os
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
import tensorflow as tf

from shared.runtime import configure

configure(int(os.environ.get('BENCH_THREADS', 2)))
tf.config.threading.set_inter_op_parallelism_threads(1)


def interleaved_medians(fns, repeats, warmup=2):
    """Median seconds of each of ``fns``, run in turns so that load affects all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}
