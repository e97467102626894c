"""The benchmark scenes of SuPAIR: Multi-MNIST, Sprites, Noisy-MNIST and Grid-MNIST."""

from datasets.core import DATASETS, SceneSet, SplitCounts, digit_pool, load_dataset
from datasets.errors import DatasetError

__all__ = ['DATASETS', 'DatasetError', 'SceneSet', 'SplitCounts', 'digit_pool', 'load_dataset']
