"""AIR's pictures: boxes, reconstructions (the decoded objects added up), prior samples."""

from datasets.drawing import draw_scenes
from shared.pictures import inference_sheet, with_reconstructions


def training_pictures(model, scenes, seed):
    """What a run draws at each epoch: boxes, reconstructions, samples."""
    boxes, present, recon = model.reconstruct(scenes)
    return {'boxes': inference_sheet(model, scenes),
            'recon': with_reconstructions(scenes, recon, boxes, present),
            'samples': sample_pictures(model, 16, seed)['samples']}


def sample_pictures(model, n, seed):
    """``n`` scenes drawn from the model's prior, with their windows."""
    images, boxes, present = model.sample_scenes(n, seed=seed)
    return {'samples': draw_scenes(images, boxes, present)}
