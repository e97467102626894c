"""AIR (Eslami et al. 2016) in TensorFlow 2, as the SuPAIR paper ran it (Pyro's example):
the paper's baseline, trained and served by the same run.py as SuPAIR."""

from air_tf.config import PRESETS, AirConfig
from air_tf.model import Air

__all__ = ['PRESETS', 'Air', 'AirConfig']
