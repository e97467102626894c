"""SuPAIR (Stelzner, Peharz, Kersting, ICML 2019), read top to bottom like section 3:
detect objects, cut out patches, build the masks, score with the SPNs, sum over N.
"""

from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from rat_spn import RatSpn, RegionGraph
from shared.interface import Detection
from supair_tf.elbo import count_log_prior, enumerated_elbo
from supair_tf.generation import FIXED_BG_STD, SceneGeneration, boxes_from_where
from supair_tf.inference import InferenceNet
from supair_tf.masks import cut_and_paste
from supair_tf.pictures import ScenePictures
from supair_tf.procedure import (
    Procedure,
    raise_presence,
    where_noise,
    widen_later_positions,
    withhold_bonus,
)
from supair_tf.transformer import transform

tfd = tfp.distributions


def region_graph(config, height, width, splits, depth, step):
    """The region graph of ``height x width x channels`` items: ``splits`` random splits
    ``depth`` deep, or (grey only) Poon-Domingos cuts every ``step`` pixels (depth 2) when
    the config asks for them."""
    if config.structure == 'poon_domingos':
        return RegionGraph.poon_domingos(height, width, step=step, max_depth=2)
    return RegionGraph.random(height * width * config.channels, splits, depth,
                              seed=config.structure_seed)


def per_channel(mask, channels):
    """``[..., H, W]`` -> ``[..., H, W, C]``: one pixel's mask for each of its channels."""
    return tf.repeat(mask[..., None], channels, axis=-1)


class BoxTerms(NamedTuple):
    """The generative model's terms for given boxes on ``b`` scenes (``k`` = steps)."""

    patches: tf.Tensor      # [b, k, A, A, C] the scene under each box, bilinearly sampled
    visibility: tf.Tensor   # [b, k, A, A] share of each patch pixel no earlier object hides
    bg_masks: tf.Tensor     # [b, k + 1, H, W] background left visible by n = 0..k objects
    overlap: tf.Tensor      # [b, k] share of each object hidden by earlier ones
    object_ll: tf.Tensor    # [b, k] object log-likelihood, area-scaled (eq. 7)
    overlap_lp: tf.Tensor   # [b, k] log Gamma(1, rate) of the overlap
    bg_ll: tf.Tensor        # [b, k + 1] background log-likelihood, n objects cut out


class SceneTerms(NamedTuple):
    """q's sample for ``b`` scenes and the model's terms for its boxes."""

    z_pres: tf.Tensor       # [b, k] presence probabilities
    z_where: tf.Tensor      # [b, k, 4] boxes (sx, sy, x, y)
    log_q_where: tf.Tensor  # [b] log q(z_where), summed over the steps
    boxes: BoxTerms


class Supair(SceneGeneration, ScenePictures, tf.Module):
    """The SuPAIR model and its inference network: the ELBO, its gradients, detection;
    scenes sampled and reconstructed (SceneGeneration).

    The optimiser and the step counter belong to the trainer (shared.training), which
    asks of it only the interface written down in shared.interface.
    """

    label = 'SuPAIR'  # its name in messages

    def __init__(self, config, seed=0, jit_compile=True, name='supair', graphs=None,
                 spn_layer=RatSpn):
        """``seed`` fixes the initial parameters (seeding Keras' generators) and every
        training step's z_where noise. ``jit_compile``: the ELBO and its gradients by XLA
        (the same numbers to float32 rounding, tested; Adam, in the trainer, stays outside).
        ``graphs``: the object and background SPNs' region graphs instead of the config's
        (another implementation's, to compare); ``spn_layer``: both SPNs' class
        (rat_spn.reference's per-region layer, to check or time the fast one against)."""
        super().__init__(name=name)
        keras.utils.set_random_seed(seed)
        self.config = config.validate()
        c = config
        # The paper's structures: 6 splits, 2 deep, for objects; 3, 1 deep, for the background.
        object_graph, background_graph = graphs or (
            region_graph(c, c.patch_size, c.patch_size, 6, 2, step=10),
            region_graph(c, c.scene_height, c.scene_width, 3, 1, step=20))
        self.inference = InferenceNet(c)
        self.object_spn = spn_layer(object_graph, c.obj_gauss, c.obj_sums, 1, c.obj_var_range,
                                    name='object_spn')
        self.background_spn = (
            spn_layer(background_graph, c.bg_gauss, c.bg_sums, 1, c.bg_var_range,
                      name='background_spn')
            if c.background_model else None)
        self.seed = seed
        self.count_prior = count_log_prior(c.steps, c.count_decay)
        self.procedure = Procedure(c)
        self._build()
        spec = tf.TensorSpec([None, *c.scene_shape], tf.float32)
        self.loss_and_gradients = tf.function(self.loss_and_gradients_graph,
                                              jit_compile=jit_compile)
        self._detect = tf.function(self.detect_graph, input_signature=[spec])
        self._elbo = tf.function(self.elbo_graph, input_signature=[spec],
                                 jit_compile=jit_compile)

    def _build(self):
        c = self.config
        self.inference(tf.zeros([1, *c.scene_shape]))
        self.object_spn.build()
        if self.background_spn is not None:
            self.background_spn.build()

    @property
    def model_variables(self):
        """The trainable variables of the inference net and both SPNs, in a fixed order."""
        parts = [self.inference, self.object_spn, self.background_spn]
        return [v for part in parts if part is not None for v in part.trainable_variables]

    def parameter_groups(self):
        """One group, learning at the config's rate: ``[(name, rate, variables)]``."""
        return [('model', self.config.learning_rate, self.model_variables)]

    def parameter_counts(self):
        """Parameters per part and in total, as in Table 1 of the paper."""
        parts = {'inference': self.inference, 'object_spn': self.object_spn,
                 'background_spn': self.background_spn}
        counts = {name: 0 if part is None else
                  int(sum(np.prod(v.shape) for v in part.trainable_variables))
                  for name, part in parts.items()}
        counts['total'] = sum(counts.values())
        return counts

    # ---- the generative model's terms (section 3) -------------------------------------
    def where_noise(self, batch, step, replica=0, replicas=1):
        """Standard normal noise ``[batch, steps, 4]`` for sampling z_where at ``step``."""
        return where_noise(self.seed, self.config.steps, batch, step, replica, replicas)

    def step_noise(self, batch, step, replica=0, replicas=1):
        """Training step ``step``'s TrainingDraw (shared.interface): its z_where noise and
        the procedure's warm-up values, all functions of (seed, step)."""
        return self.procedure.draw(self.where_noise(batch, step, replica, replicas), step)

    def scene_terms(self, images, noise=None, sample=True, min_scale=None, spread=None):
        """Everything the ELBO and the pictures need, for images ``[b, H, W, C]``.

        ``noise`` (default: drawn for step -1) samples z_where by reparameterisation;
        with ``sample=False`` z_where is the mean of q. ``min_scale``: the least box width
        (default: the config's); ``spread``: pixels added to the std of the position of
        every box after the first.
        """
        b = tf.shape(images)[0]
        least, c = min_scale, self.config
        if min_scale is not None and c.explore_gate and c.explore_gate_width:
            least = lambda z_pres: self.procedure.gated(  # noqa: E731
                min_scale, self.config.min_obj_scale, z_pres)
        z_pres, where_mean, where_std = self.inference(images, min_scale=least)
        if spread is not None:
            where_std = widen_later_positions(where_std,
                                              self.procedure.gated(spread, 0.0, z_pres))
        q_where = tfd.Normal(where_mean, where_std)
        if noise is None:
            noise = self.where_noise(b, -1)
        z_where = where_mean + where_std * noise if sample else where_mean   # [b, steps, 4]
        log_q_where = tf.reduce_sum(q_where.log_prob(z_where), axis=[1, 2])
        return SceneTerms(z_pres, z_where, log_q_where, self.box_terms(images, z_where))

    def box_terms(self, scene, z_where):
        """The generative model's terms for given boxes ``z_where [b, steps, 4]`` on scenes
        ``[b, H, W, C]``: patches, masks, area-scaled object log-likelihoods, overlap
        log-prior ``[b, steps]`` and background log-likelihoods ``[b, steps + 1]``."""
        c = self.config
        b = tf.shape(scene)[0]
        patches, indicators = transform(scene, z_where, c.patch_size)      # [b, k, A, A, C]
        visibility, bg_masks, overlap = cut_and_paste(z_where, indicators, c.patch_size)

        # Object likelihood on the patch, occluded pixels (all their channels)
        # marginalised, scaled by W_i H_i / A^2 = sx * sy (eq. 7).
        items = c.patch_size * c.patch_size * c.channels
        hidden = per_channel(1.0 - visibility, c.channels)
        object_ll = self.object_spn(tf.reshape(patches, [-1, items]),
                                    marginalized=tf.reshape(hidden, [-1, items]))
        object_ll = tf.reshape(object_ll, [b, c.steps]) * z_where[..., 0] * z_where[..., 1]
        overlap_lp = tfd.Gamma(1.0, c.overlap_rate).log_prob(overlap)

        bg_ll = self.background_log_lik(scene, bg_masks)                      # [b, steps+1]
        return BoxTerms(patches, visibility, bg_masks, overlap, object_ll, overlap_lp, bg_ll)

    def background_log_lik(self, scene, bg_masks):
        """log p_bg of the pixels (all channels) left visible by n objects, for every n:
        ``[b, steps + 1]``; ``scene [b, H, W, C]``, ``bg_masks [b, steps + 1, H, W]``."""
        c = self.config
        pixels = int(np.prod(c.scene_shape))                                  # P = H W C
        flat = tf.reshape(scene, [-1, 1, pixels])
        n = c.steps + 1
        masks = tf.reshape(per_channel(bg_masks, c.channels), [-1, n, pixels])  # [b, n, P]
        if self.background_spn is None:
            log_pdf = tfd.Normal(0.0, FIXED_BG_STD).log_prob(flat)
            return tf.reduce_sum(log_pdf * masks, axis=2)
        scenes = tf.reshape(tf.repeat(flat, n, axis=1), [-1, pixels])
        ll = self.background_spn(scenes, marginalized=tf.reshape(1.0 - masks, [-1, pixels]))
        return tf.reshape(ll, [-1, n])

    def elbo_graph(self, images, noise=None, presence_floor=None, bonus_share=None,
                   min_scale=None, spread=None):
        """Per-image ELBO ``[b]`` as a graph function (eq. 9); ``noise`` as in scene_terms.

        With ``presence_floor`` (f), of q with each z_pres raised to f + (1 - f) z_pres;
        with ``bonus_share`` (s), each object's overlap term loses (1 - s) log(rate): lower
        bounds still (supair_tf.procedure). ``min_scale``, ``spread``: as in scene_terms.
        """
        t = self.scene_terms(images, noise, min_scale=min_scale, spread=spread)
        floor = self.procedure.gated(presence_floor, 0.0, t.z_pres,
                                     each_box=self.config.explore_gate_each)
        z_pres = raise_presence(t.z_pres, floor)
        object_terms = withhold_bonus(t.boxes.object_ll + t.boxes.overlap_lp, bonus_share,
                                      self.config.overlap_rate)
        return enumerated_elbo(z_pres, object_terms, t.boxes.bg_ll, t.log_q_where,
                               self.count_prior)

    def elbo(self, images):
        """Per-image ELBO ``[b]`` (one sample of z_where, N summed exactly)."""
        return self._elbo(tf.convert_to_tensor(images, tf.float32))

    # ---- inference --------------------------------------------------------------------
    def detect_graph(self, images):
        """What ``detect`` returns, as a graph function."""
        z_pres, z_where, _ = self.inference(images)
        return {'z_pres': z_pres, 'z_where': z_where,
                'count': tf.reduce_sum(tf.cast(z_pres >= 0.5, tf.int32), axis=1),
                'boxes': boxes_from_where(z_where, self.config.patch_size)}

    def detect(self, images):
        """The Detection of images ``[b, H, W, C]``."""
        return Detection(**self._detect(tf.convert_to_tensor(images, tf.float32)))

    def extra_metrics(self, scenes):
        """No figures beyond the shared ones."""
        return {}

    def averaged_epochs(self):
        """How many epoch ends the model a run ends with averages (the procedure's)."""
        return self.procedure.averaged_epochs()

    # ---- learning ---------------------------------------------------------------------
    def loss_and_gradients_graph(self, images, noise, replicas=1):
        """The replica's share of the negative mean ELBO and its dense gradients, with
        respect to ``model_variables`` (``loss_and_gradients`` is this, compiled).
        ``noise``: the step's TrainingDraw, or z_where noise alone (the paper's q).

        Under a tf.distribute strategy each replica gets its share of the global batch;
        the loss is the replica's part of the global mean, so that the all-reduced
        gradients equal those of one device on the whole batch.
        """
        noise, warm_up = self.procedure.objective_args(noise)
        with tf.GradientTape() as tape:
            elbo = self.elbo_graph(images, noise, *warm_up)
            loss = -tf.reduce_sum(elbo) / tf.cast(tf.shape(images)[0] * replicas, tf.float32)
        # Dense gradients: every SPN parameter is used, and sparse (gathered) ones would
        # take Adam's sparse path, whose all-reduce across replicas repeats indices.
        return loss, [tf.convert_to_tensor(g) for g in tape.gradient(loss, self.model_variables)]
