"""SuPAIR (Stelzner, Peharz, Kersting, ICML 2019), read top to bottom like section 3:
detect objects, cut out patches, build the masks, score with the SPNs, sum over N.
"""

import math
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
from supair_tf.pictures import sample_pictures, training_pictures
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


def ramp(step, steps):
    """0 at step 0, rising linearly to 1 at ``steps`` (> 0), 1 after."""
    return tf.minimum(tf.cast(step, tf.float32) / float(steps), 1.0)


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


class TrainingDraw(NamedTuple):
    """What training step ``step`` draws and depends on (``step_noise``)."""

    where: tf.Tensor            # [b, k, 4] standard normal noise that samples z_where
    presence_floor: tf.Tensor   # scalar: the least z_pres of q this step (0: the paper's q)
    bonus_share: tf.Tensor      # scalar: the share of log(overlap_rate) an object earns (1)
    min_scale: tf.Tensor        # scalar: the least box width / A this step (min_obj_scale)
    spread: tf.Tensor           # scalar: pixels added to q's std of the box position (0)


class Supair(SceneGeneration, tf.Module):
    """The SuPAIR model and its inference network: the ELBO, its gradients, detection;
    scenes sampled and reconstructed (SceneGeneration).

    The optimiser and the step counter belong to the trainer (shared.training), which
    asks of it only the interface written down in shared.interface.
    """

    label = 'SuPAIR'  # its name in messages

    def __init__(self, config, seed=0, jit_compile=True, name='supair', graphs=None,
                 spn_layer=RatSpn):
        """``seed`` fixes the initial parameters (it seeds Keras' global generators before
        building) and the z_where noise of every training step. ``jit_compile`` compiles
        the ELBO and its gradients with XLA (the optimiser's update, in the trainer, stays
        outside: Keras' Adam is slower under XLA on the CPU); it computes the same numbers
        as the plain graphs up to float32 rounding (tested). ``graphs``: the object and
        background SPNs' region graphs, instead of the structures the config describes
        (a comparison with another implementation passes that one's). ``spn_layer``: the
        class of both SPNs (rat_spn.reference's per-region evaluation, to check or time
        the fast layer against it)."""
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
        """Standard normal noise ``[batch, steps, 4]`` for sampling z_where.

        A function of (seed, step) only, drawn for the global batch and sliced per
        replica: one device and several draw the same numbers, and a resumed run
        draws what the interrupted one would have.
        """
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        # Philox named, not left to the device: XLA would pick another generator.
        noise = tf.random.stateless_normal([batch * replicas, self.config.steps, 4], seed,
                                           alg='philox')
        return noise[replica * batch:(replica + 1) * batch]

    def warm_up(self, step, start, end, steps):
        """``end`` (the paper's value), or under ``procedure='explore'`` a value going
        linearly from ``start`` at step 0 to ``end`` at ``steps`` (``end`` after)."""
        if self.config.procedure != 'explore' or steps == 0:
            return tf.constant(float(end))
        return start + (end - start) * ramp(step, steps)

    def presence_floor(self, step):
        """The least presence probability q may give at training ``step``: under
        ``procedure='explore'`` it falls from ``explore_floor`` to 0 over ``explore_steps``,
        so that the second and third boxes keep learning where to go while q would rather
        not use them; 0 under the paper's procedure."""
        c = self.config
        return self.warm_up(step, c.explore_floor, 0.0, c.explore_steps)

    def bonus_share(self, step):
        """The share of the overlap term's constant log(overlap_rate) that each object
        earns at training ``step``. The Gamma(1, rate) density at zero overlap is the rate,
        so every object that overlaps none earns log 120 = 4.8 nats, more than the count
        prior's 0.7 takes: two boxes on one object gain ~4 nats over one. Under
        ``procedure='explore'`` the share rises from 0 to 1 over ``overlap_warmup`` steps;
        1 (the paper's objective) otherwise."""
        return self.warm_up(step, 0.0, 1.0, self.config.overlap_warmup)

    def min_scale(self, step):
        """The least box width (relative to A) at training ``step``: under
        ``procedure='explore'`` it falls from ``explore_min_scale`` (0: no warm-up) to
        ``min_obj_scale`` over ``explore_steps``, so that the object SPN first learns whole
        objects, not the fragments that tiny boxes see; ``min_obj_scale`` otherwise."""
        c = self.config
        return self.warm_up(step, c.explore_min_scale or c.min_obj_scale, c.min_obj_scale,
                            c.explore_steps)

    def spread(self, step):
        """Pixels added to the std of q's position of the second and later boxes at
        training ``step``: under ``procedure='explore'`` it falls from ``explore_spread`` to
        0 over ``explore_steps``, so that a box q does not yet use samples places away from
        where it sits (q's own std is at most 0.3 pixels) and learns where another object
        is. (Spread on the first box too, nothing is found for two epochs.)"""
        c = self.config
        return self.warm_up(step, c.explore_spread, 0.0, c.explore_steps)

    def step_noise(self, batch, step, replica=0, replicas=1):
        """Training step ``step``'s TrainingDraw (shared.interface): its z_where noise and
        warm-up values, all functions of (seed, step)."""
        return TrainingDraw(self.where_noise(batch, step, replica, replicas),
                            self.presence_floor(step), self.bonus_share(step),
                            self.min_scale(step), self.spread(step))

    def scene_terms(self, images, noise=None, sample=True, min_scale=None, spread=None):
        """Everything the ELBO and the pictures need, for images ``[b, H, W, C]``.

        ``noise`` (default: drawn for step -1) samples z_where by reparameterisation;
        with ``sample=False`` z_where is the mean of q. ``min_scale``: the least box width
        (default: the config's); ``spread``: pixels added to the std of the position of
        every box after the first.
        """
        b = tf.shape(images)[0]
        z_pres, where_mean, where_std = self.inference(images, min_scale=min_scale)
        if spread is not None:   # on the positions of the boxes after the first
            steps = self.config.steps
            later = tf.constant([[0.0] * 4] + [[0.0, 0.0, 1.0, 1.0]] * (steps - 1))
            where_std += spread * later
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

        With ``presence_floor`` (a scalar f), of q with each z_pres raised to
        f + (1 - f) z_pres: still a lower bound on log p(x), of a q that tries more objects.
        With ``bonus_share`` (s in [0, 1]), each object's overlap term loses (1 - s) log(rate):
        a lower bound still, and looser. ``min_scale``, ``spread``: as in scene_terms.
        """
        t = self.scene_terms(images, noise, min_scale=min_scale, spread=spread)
        z_pres, object_terms = t.z_pres, t.boxes.object_ll + t.boxes.overlap_lp
        if presence_floor is not None:
            z_pres = presence_floor + (1.0 - presence_floor) * z_pres
        if bonus_share is not None:
            object_terms -= (1.0 - bonus_share) * math.log(self.config.overlap_rate)
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
        """How many epoch ends the model a run ends with averages: ``average_epochs`` under
        ``procedure='explore'``; the paper's procedure ends with its last weights (0)."""
        return self.config.average_epochs if self.config.procedure == 'explore' else 0

    def pictures(self, scenes, seed=0):
        """Boxes, reconstructions and samples, as ``{name: PIL image}``."""
        return training_pictures(self, scenes, seed)

    def sample_pictures(self, n, seed=0):
        """``n`` scenes drawn from the model (and with leaf means), ``{name: PIL image}``."""
        return sample_pictures(self, n, seed)

    # ---- learning ---------------------------------------------------------------------
    def loss_and_gradients_graph(self, images, noise, replicas=1):
        """The replica's share of the negative mean ELBO and its dense gradients, with
        respect to ``model_variables`` (``loss_and_gradients`` is this, compiled).
        ``noise``: the step's TrainingDraw, or z_where noise alone (the paper's q).

        Under a tf.distribute strategy each replica gets its share of the global batch;
        the loss is the replica's part of the global mean, so that the all-reduced
        gradients equal those of one device on the whole batch.
        """
        warm_up = ()
        if isinstance(noise, TrainingDraw):
            # The paper's procedure keeps the authors' graph, not one that adds a zero.
            if self.config.procedure == 'explore':
                warm_up = (noise.presence_floor, noise.bonus_share, noise.min_scale,
                           noise.spread)
            noise = noise.where
        with tf.GradientTape() as tape:
            elbo = self.elbo_graph(images, noise, *warm_up)
            loss = -tf.reduce_sum(elbo) / tf.cast(tf.shape(images)[0] * replicas, tf.float32)
        # Dense gradients: every SPN parameter is used, and sparse (gathered) ones would
        # take Adam's sparse path, whose all-reduce across replicas repeats indices.
        return loss, [tf.convert_to_tensor(g) for g in tape.gradient(loss, self.model_variables)]
