"""The benchmark scenes of SuPAIR: Multi-MNIST, Sprites, Noisy-MNIST and Grid-MNIST."""

from datasets.core import DATASETS, SceneSet, digit_pool, load_dataset
from datasets.errors import DatasetError

__all__ = ['DATASETS', 'DatasetError', 'SceneSet', 'digit_pool', 'load_dataset']
