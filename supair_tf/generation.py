"""Scenes from the generative model: ancestral samples, and reconstructions (Fig. 6)."""

import numpy as np
import tensorflow as tf

from datasets.core import SceneSet
from supair_tf.paste import paste_objects, paste_objects_graph

FIXED_BG_STD = 0.35  # the ablation's background: Normal(0, 0.35) per pixel


def boxes_from_where(z_where, patch_size):
    """(sx, sy, x, y) -> (y0, x0, y1, x1) in pixels: the box spans A*sx by A*sy."""
    sx, sy, x, y = tf.unstack(z_where, axis=-1)
    return tf.stack([y, x, y + patch_size * sy, x + patch_size * sx], axis=-1)


class SceneGeneration:
    """Sampling and reconstruction for a Supair model (a mixin: it reads the model's config,
    count prior, SPNs and ``scene_terms``)."""

    def sample_scenes(self, n, seed=None, leaf_means=False):
        """``n`` scenes drawn from the learned generative model (paper section 3).

        The count N from p(N) (section 3.1's truncated geometric prior, renormalised over
        0..N_max). The paper's prior over z_where is uniform "with suitable bounds"
        (section 3.1) and enters the ELBO only as a constant, so no bounds are stored; we
        take the ranges the inference net can output: width ``sx * A`` with sx in
        [min_obj_scale, max_obj_scale], height ``sx * aspect * A`` with aspect in
        [min_aspect, max_aspect], top-left corner in [0, 0.9 W] x [0, 0.9 H]. Each
        object is an ancestral sample of the object SPN, resized to its box and pasted back
        to front (step 0 in front) onto an ancestral sample of the background SPN (without
        a background model: Normal(0, 0.35) per pixel); pixels are clipped to [0, 1].
        ``leaf_means``: the SPNs' sum nodes are sampled but their chosen Gaussians emit
        their means (no pixel noise: the shapes the model has learned, easier to look at).

        Returns a SceneSet of numpy arrays: ``images [n, H, W, C]``, ``counts [n]`` and
        ``boxes [n, steps, 4]`` (y0, x0, y1, x1 in pixels, zero after the count).
        """
        c = self.config
        height, width, channels = c.scene_shape
        rng = np.random.default_rng(seed)
        prior = np.exp(self.count_prior.numpy().astype(np.float64))
        counts = rng.choice(c.steps + 1, size=n, p=prior / prior.sum())
        sx = rng.uniform(c.min_obj_scale, c.max_obj_scale, [n, c.steps])
        sy = sx * rng.uniform(c.min_aspect, c.max_aspect, [n, c.steps])
        x = rng.uniform(0.0, 0.9 * width, [n, c.steps])
        y = rng.uniform(0.0, 0.9 * height, [n, c.steps])
        z_where = np.stack([sx, sy, x, y], -1).astype(np.float32)
        spn_seed = int(rng.integers(2 ** 31))
        objects = self.object_spn.sample(n * c.steps, spn_seed, leaf_means).reshape(
            n, c.steps, c.patch_size, c.patch_size, channels)
        if self.background_spn is None:
            scenes = rng.normal(0.0, 0.0 if leaf_means else FIXED_BG_STD,
                                [n, height, width, channels])
        else:
            scenes = self.background_spn.sample(n, spn_seed + 1, leaf_means).reshape(
                n, height, width, channels)
        scenes = np.clip(scenes, 0.0, 1.0).astype(np.float32)
        paste_objects(scenes, objects, z_where, counts, c.patch_size)
        boxes = boxes_from_where(z_where, c.patch_size).numpy()
        boxes[np.arange(c.steps)[None] >= counts[:, None]] = 0.0
        return SceneSet(np.clip(scenes, 0.0, 1.0), counts.astype(np.int32), boxes)

    def reconstruct_graph(self, images):
        """reconstruct as graph operations (exported as the SavedModel's ``reconstruct``):
        the same SPN MPE choices; objects resized by paste_objects_graph."""
        c = self.config
        n = tf.shape(images)[0]
        height, width, channels = c.scene_shape
        terms = self.scene_terms(images, sample=False)
        count = tf.reduce_sum(tf.cast(terms.z_pres >= 0.5, tf.int32), axis=1)
        items = c.patch_size ** 2 * channels
        patches = tf.reshape(terms.boxes.patches, [-1, items])
        hidden = tf.repeat(1.0 - terms.boxes.visibility[..., None], channels, -1)
        objects = tf.reshape(self.object_spn.mpe_graph(patches, tf.reshape(hidden, [-1, items])),
                             [n, c.steps, c.patch_size, c.patch_size, channels])
        scenes = tf.reshape(images, [n, -1])
        own = tf.gather(terms.boxes.bg_masks, count, batch_dims=1)                # [n, H, W]
        own = tf.reshape(tf.repeat(own[..., None], channels, -1), [n, -1])
        if self.background_spn is None:
            background = scenes * own
        else:
            background = self.background_spn.mpe_graph(scenes, 1.0 - own)
        background = tf.reshape(tf.clip_by_value(background, 0, 1), [n, height, width, channels])
        pasted = paste_objects_graph(background, objects, terms.z_where, count, c.patch_size)
        return tf.clip_by_value(pasted, 0.0, 1.0)

    def reconstruct(self, images, terms=None):
        """Rebuilds scenes from the SPNs (Vergari et al. 2018), as in the paper's Fig. 6.

        The background SPN fills the pixels the detected objects cover (its MPE state,
        observed pixels kept); each object's SPN reconstruction, resized to its box, is
        pasted back to front (cut off at the scene's edge). Returns ``[n, H, W, C]`` in
        [0, 1]. ``terms``: the images' ``scene_terms(images, sample=False)``, if already
        computed.
        """
        c = self.config
        height, width, channels = c.scene_shape
        terms = terms or self.scene_terms(images, sample=False)
        count = np.sum(terms.z_pres.numpy() >= 0.5, axis=1)
        items = c.patch_size ** 2 * channels
        patches = terms.boxes.patches.numpy().reshape(-1, items)
        hidden = np.repeat(1.0 - terms.boxes.visibility.numpy()[..., None], channels, -1)
        objects = self.object_spn.mpe_reconstruct(patches, hidden.reshape(-1, items)).reshape(
            len(images), c.steps, c.patch_size, c.patch_size, channels)
        scenes = np.asarray(images, np.float32).reshape(len(images), -1)
        own_mask = terms.boxes.bg_masks.numpy()[np.arange(len(images)), count]    # [n, H, W]
        own_mask = np.repeat(own_mask[..., None], channels, -1).reshape(len(images), -1)
        if self.background_spn is None:
            background = scenes * own_mask
        else:
            background = self.background_spn.mpe_reconstruct(scenes, 1.0 - own_mask)
        out = np.clip(background, 0, 1).reshape(-1, height, width, channels)
        paste_objects(out, objects, terms.z_where.numpy(), count, c.patch_size)
        return np.clip(out, 0, 1)
