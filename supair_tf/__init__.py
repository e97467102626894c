"""SuPAIR in TensorFlow 2: model, inference network, spatial transformer, ELBO, training."""

from supair_tf.config import PRESETS, SupairConfig
from supair_tf.model import Supair

__all__ = ['PRESETS', 'Supair', 'SupairConfig']
