"""Train, evaluate or export SuPAIR (or AIR, --model=air):  python run.py --dataset=sprites

See README.md for the flags; `python run.py --helpshort` lists them.
"""

import glob
import os
import sys
import tempfile

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

# What TensorFlow's CUDA build writes to stderr on every start on a machine without a GPU,
# and the notice (at info level, once per library that loads it) that oneDNN's CPU kernels
# are on, which CPUs with AVX-512 get.
GPU_PROBE_NOISE = ('cudart_stub.cc', 'cuda_platform.cc', 'failed call to cuInit',
                   'before absl::InitializeLog() is called', 'oneDNN custom operations are on')


def import_tensorflow_quietly():
    """Imports TensorFlow and the package, and probes for GPUs, holding back start-up noise.

    On a machine without NVIDIA device files the CUDA build of TensorFlow logs that it
    found no driver and that ``cuInit`` failed (as an error) on every start, and on CPUs
    with AVX-512 each library that loads it says that oneDNN is on. Those lines
    are dropped; anything else written meanwhile is passed on. Where a GPU exists nothing
    is held back: its CUDA messages can matter.
    """
    if glob.glob('/dev/nvidia*') or not hasattr(os, 'dup2'):
        import tensorflow  # noqa: F401
        return
    sys.stderr.flush()
    stderr = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow as tf
            tf.config.list_physical_devices('GPU')
            # Keras and TFP (imported by the models) load TensorFlow's libraries again.
            import models  # noqa: F401
            import shared.app  # noqa: F401
        finally:
            os.dup2(stderr, 2)
            os.close(stderr)
        held.seek(0)
        for line in held.read().decode(errors='replace').splitlines(keepends=True):
            if not any(noise in line for noise in GPU_PROBE_NOISE):
                sys.stderr.write(line)


import_tensorflow_quietly()

from absl import app, flags

import models  # noqa: F401  (registers the kinds of model --model names)
import shared.flags
from shared.app import main

# --helpshort lists the key flags of the main module: make them those of shared.flags.
flags.adopt_module_key_flags(shared.flags)

if __name__ == '__main__':
    app.run(main)
