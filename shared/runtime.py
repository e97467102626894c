"""Process-wide settings for training on a CPU: threads and the C heap."""

import ctypes
import ctypes.util

import tensorflow as tf

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -2, -3, -8  # glibc mallopt


def keep_freed_memory(limit=1 << 30, arenas=1):
    """Lets glibc keep freed blocks up to ``limit`` bytes for reuse.

    A training step allocates and frees the same tensors of several MB each time.
    By default glibc maps such blocks fresh from the kernel (and each thread's arena
    returns its free memory), so every step pays the page faults of touching them
    again: about 31,000 per step, 90 ms of system time, on the benchmark machine;
    with one arena and these limits, none (RESULTS.md).
    Returns False where the C library has no ``mallopt`` (not glibc).
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c'))
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    settings = ((_M_ARENA_MAX, arenas), (_M_MMAP_THRESHOLD, limit), (_M_TRIM_THRESHOLD, limit),
                (_M_TOP_PAD, limit // 2))
    return all([bool(mallopt(name, value)) for name, value in settings])


def configure(threads=0, deterministic=False):
    """Threads per op (0: one per core), the heap setting above and, if asked,
    TensorFlow's deterministic ops (the same run gives the same numbers, bit for bit)."""
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    keep_freed_memory()
