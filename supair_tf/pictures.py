"""SuPAIR's pictures: SPN reconstructions (Fig. 6) and scenes sampled from the model."""

import numpy as np

from datasets.drawing import draw_scenes
from shared.pictures import inference_sheet, with_reconstructions
from supair_tf.generation import boxes_from_where


def reconstruction_sheet(model, images, columns=8):
    """Rows of scenes with boxes, each followed by a row of their reconstructions."""
    terms = model.scene_terms(images, sample=False)   # one inference pass for both rows
    present = terms.z_pres.numpy() >= 0.5
    boxes = boxes_from_where(terms.z_where, model.config.patch_size).numpy()
    return with_reconstructions(images, model.reconstruct(images, terms), boxes, present,
                                columns)


def sample_sheet(model, n=16, seed=0, columns=8, leaf_means=False):
    """Scenes sampled from the learned model (``Supair.sample_scenes``) with their boxes."""
    samples = model.sample_scenes(n, seed=seed, leaf_means=leaf_means)
    present = np.arange(model.config.steps)[None] < samples.counts[:, None]
    return draw_scenes(samples.images, samples.boxes, present, columns=columns)


def training_pictures(model, scenes, seed):
    """What a run draws at each epoch: boxes, reconstructions, samples."""
    return {'boxes': inference_sheet(model, scenes),
            'recon': reconstruction_sheet(model, scenes),
            'samples': sample_sheet(model, seed=seed)}


def sample_pictures(model, n, seed):
    """``--mode=sample``: ``n`` scenes from the model, and the same with leaf means."""
    return {'samples': sample_sheet(model, n=n, seed=seed),
            'samples_leaf_means': sample_sheet(model, n=n, seed=seed, leaf_means=True)}


class ScenePictures:
    """The pictures of a Supair model (a mixin of shared.interface's two picture methods)."""

    def pictures(self, scenes, seed=0):
        """Boxes, reconstructions and samples, as ``{name: PIL image}``."""
        return training_pictures(self, scenes, seed)

    def sample_pictures(self, n, seed=0):
        """``n`` scenes drawn from the model (and with leaf means), ``{name: PIL image}``."""
        return sample_pictures(self, n, seed)
