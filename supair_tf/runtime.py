"""Process-wide settings for training on a CPU: threads and the C heap."""

import ctypes
import ctypes.util

import tensorflow as tf

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -2, -3, -8  # glibc mallopt


def keep_freed_memory(limit=1 << 30, arenas=1):
    """Lets glibc keep freed blocks up to ``limit`` bytes for reuse.

    A training step allocates and frees the same tensors of several MB each time.
    By default glibc maps such blocks fresh from the kernel and unmaps them when
    freed, so every step pays the page faults of touching them again (measured on
    the benchmark machine: the train step 10-20% faster with this; RESULTS.md).
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


def configure(threads=0):
    """Threads per op (0: one per core) and the heap setting above."""
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    keep_freed_memory()
