"""Train, evaluate or export SuPAIR:  python run.py --dataset=sprites

See README.md for the flags; `python run.py --helpshort` lists them.
"""

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import app  # noqa: E402

import supair_tf.flags  # noqa: E402,F401  (defines the flags)
from supair_tf.app import main  # noqa: E402

if __name__ == '__main__':
    app.run(main)
