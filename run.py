"""Train, evaluate or export SuPAIR:  python run.py --dataset=sprites

See README.md for the flags; `python run.py --helpshort` lists them.
"""

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import app, flags

import supair_tf.flags
from supair_tf.app import main

# --helpshort lists the key flags of the main module: make them those of supair_tf.flags.
flags.adopt_module_key_flags(supair_tf.flags)

if __name__ == '__main__':
    app.run(main)
