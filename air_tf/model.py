"""AIR, Attend-Infer-Repeat (Eslami et al., NIPS 2016), as the SuPAIR paper ran it: Pyro's
``examples/air`` with its authors' recommended settings (air_tf.config).

The generative model (Eslami et al. section 2): up to ``steps`` objects; z_pres from a
truncated geometric prior over the count, z_where = (s, x, y) and z_what Gaussian; each
object's window decoded by an MLP and added onto a black canvas (no occlusion); pixels
Normal(canvas, 0.3). The guide (section 2.1, Fig. 2): an LSTM reads the image and the
previous step's latents and proposes each step's z_pres and z_where; an encoder reads the
window z_where cuts out and proposes z_what. Learning (section 3 and appendix): the
reparameterised ELBO for z_where and z_what, and for the discrete z_pres the score
function with a learned baseline (NVIL, Mnih & Gregor 2014) whose own LSTM regresses the
downstream cost, as Pyro's TraceGraph_ELBO computes it; or (``estimator``, Kosior's notes
on AIR, section 5) VIMCO's multi-sample bound, or the count summed out exactly.

The guide is air_tf.guide's mixin, the estimators air_tf.estimators'.
"""

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from air_tf.densities import bernoulli_log_prob, normal_log_prob
from air_tf.estimators import Estimators
from air_tf.guide import Guide
from air_tf.networks import MLP, LSTMCell
from air_tf.pictures import sample_pictures, training_pictures
from air_tf.transformer import window_boxes, window_to_image
from shared.interface import Detection


def count_prior_trials(k, steps):
    """Pyro's ``make_prior``, for any number of steps: the per-step probabilities ``p_t``
    of going on, such that the count N of the chain has ``P(N = n)`` proportional to
    ``k ** n`` for ``n = 0 .. steps``: ``p_t = P(N > t) / P(N >= t)``."""
    weights = k ** np.arange(steps + 1, dtype=np.float64)
    tail = np.cumsum(weights[::-1])[::-1]          # P(N >= t), unnormalised
    return tail[1:] / tail[:-1]


def count_prior(k, steps):
    """``P(N = n)``, n = 0 .. steps, of the chain of ``count_prior_trials``."""
    trials = count_prior_trials(k, steps)
    going = np.concatenate([[1.0], np.cumprod(trials)])   # P(N >= n)
    return going * np.append(1.0 - trials, 1.0)


class ElboTerms(NamedTuple):
    """Per-scene and per-step log-densities of one guide sample, ``[b, steps]`` or ``[b]``."""

    site_costs: tf.Tensor   # [b, k] log p - log q of each step's z_pres, z_where, z_what
    log_lik: tf.Tensor      # [b] log p(x | z)
    log_q_pres: tf.Tensor   # [b, k]
    baseline: tf.Tensor     # [b, k]
    log_p: tf.Tensor        # [b] log p(x, z)
    log_q: tf.Tensor        # [b] log q(z | x)
    canvas: tf.Tensor       # [b, H, W] the model's mean image


class Air(Guide, Estimators, tf.Module):
    """AIR's model, guide and baselines: the ELBO, the surrogate whose gradients it learns
    from, detection and pictures (the interface of shared.interface)."""

    label = 'AIR'  # its name in messages ('DAIR' for a guide that reads the error canvas)

    def __init__(self, config, seed=0, jit_compile=True, name='air'):
        """``seed`` draws the initial parameters (PyTorch's distributions, air_tf.networks)
        and the noise of every training step; ``jit_compile`` compiles the loss and its
        gradients with XLA."""
        super().__init__(name=name)
        self.config = c = config.validate()
        self.seed = seed
        self.reads_error = c.guide_input == 'error'
        self.relaxes = c.estimator == 'relaxed'
        if self.reads_error:
            self.label = 'DAIR'
        rng = np.random.default_rng(seed)
        pixels = c.scene_height * c.scene_width
        window = c.window_size * c.window_size
        rnn_inputs = pixels + 3 + c.z_what_size + 1
        units = c.rnn_hidden_size
        self.rnn = LSTMCell(rnn_inputs, units, rng, name='rnn')
        self.encode = MLP(window, [*c.encoder_hidden, 2 * c.z_what_size], rng, name='encode')
        self.decode = MLP(c.z_what_size, [*c.decoder_hidden, window], rng, name='decode')
        self.predict = MLP(units, [*c.predict_hidden, 7], rng, name='predict')
        self.bl_rnn = LSTMCell(rnn_inputs, units, rng, name='bl_rnn')
        self.bl_predict = MLP(units, [*c.baseline_hidden, 1], rng, name='bl_predict')
        if c.air_background:   # after every other network: AIR's initial values stay as they were
            self.bg_propose = MLP(units, [2 * c.background_size], rng, name='bg_propose')
            self.bg_decode = MLP(c.background_size, [*c.background_hidden, pixels], rng,
                                 name='bg_decode')
        zeros = lambda n, name: tf.Variable(tf.zeros([1, n]), name=name)  # noqa: E731
        self.h_init, self.c_init = zeros(units, 'h_init'), zeros(units, 'c_init')
        self.bl_h_init, self.bl_c_init = zeros(units, 'bl_h_init'), zeros(units, 'bl_c_init')
        self.z_where_init = zeros(3, 'z_where_init')
        self.z_what_init = zeros(c.z_what_size, 'z_what_init')
        self.where_prior_loc = tf.constant(
            [c.scale_prior_mean, c.pos_prior_mean, c.pos_prior_mean], tf.float32)
        self.where_prior_sd = tf.constant(
            [c.scale_prior_sd, c.pos_prior_sd, c.pos_prior_sd], tf.float32)
        self.prior_trials = tf.constant(count_prior_trials(c.z_pres_prior, c.steps), tf.float32)
        spec = tf.TensorSpec([None, *c.scene_shape], tf.float32)
        self.loss_and_gradients = tf.function(self.loss_and_gradients_graph,
                                              jit_compile=jit_compile)
        self._detect = tf.function(self.detect_graph, input_signature=[spec])
        self._elbo = tf.function(self.elbo_graph, input_signature=[spec],
                                 jit_compile=jit_compile)
        self._counts = tf.function(self.sampled_counts_graph, input_signature=[spec])

    # ---- parameters ---------------------------------------------------------------------
    def _parts(self):
        background = [self.bg_propose, self.bg_decode] if self.config.air_background else []
        return {'rnn': [self.rnn], 'encode': [self.encode], 'decode': [self.decode],
                'background': background,
                'predict': [self.predict], 'bl_rnn': [self.bl_rnn],
                'bl_predict': [self.bl_predict],
                'initial_states': [self.h_init, self.c_init, self.z_where_init,
                                   self.z_what_init, self.bl_h_init, self.bl_c_init]}

    def _variables(self, *names):
        parts = self._parts()
        out = []
        for name in names:
            for part in parts[name]:
                # A module lists its variables in a fixed order (by attribute, then index).
                out.extend([part] if isinstance(part, tf.Variable) else part.trainable_variables)
        return out

    def parameter_groups(self):
        """Pyro's per-parameter learning rates: ``bl_*`` (the baselines) at
        ``baseline_learning_rate``, the rest at ``learning_rate``."""
        c = self.config
        model = (self._variables('rnn', 'encode', 'decode', 'predict', 'background')
                 + [self.h_init, self.c_init, self.z_where_init, self.z_what_init])
        baselines = self._variables('bl_rnn', 'bl_predict') + [self.bl_h_init, self.bl_c_init]
        return [('model', c.learning_rate, model),
                ('baselines', c.baseline_learning_rate, baselines)]

    @property
    def model_variables(self):
        """Every trained variable: the model group, then the baselines."""
        return [v for _, _, group in self.parameter_groups() for v in group]

    def parameter_counts(self):
        """Parameters per part. The paper's Table 1 groups are ``inference_lstm`` (the
        guide's LSTM, 2,879,488), ``object_model`` (encoder and decoder, 344,884) and
        ``baselines`` (its LSTM and head: 2,879,745 with the 256-to-1 head the table
        counts, more with the recommended 200-unit hidden layer); the predict MLP and the
        learned initial states are in none of them."""
        count = lambda *names: int(sum(np.prod(v.shape)  # noqa: E731
                                       for v in self._variables(*names)))
        counts = {'inference_lstm': count('rnn'), 'object_model': count('encode', 'decode'),
                  'baselines': count('bl_rnn', 'bl_predict'), 'predict': count('predict'),
                  **({'background': count('background')} if self.config.air_background else {}),
                  'initial_states': count('initial_states')}
        counts['total'] = sum(counts.values())
        return counts

    # ---- noise ----------------------------------------------------------------------------
    def step_noise(self, batch, step, replica=0, replicas=1):
        """The guide's randomness for training step ``step`` (draw_noise): one guide sample
        per scene, or under ``estimator='vimco'`` ``vimco_samples`` of them."""
        c = self.config
        samples = c.vimco_samples if c.estimator == 'vimco' else 1
        noise = self.draw_noise(batch, step, replica, replicas, samples)
        # the relaxed prior anneals with the step
        return (*noise, tf.cast(step, tf.float32)) if self.relaxes else noise

    def draw_noise(self, batch, step, replica=0, replicas=1, samples=1):
        """Uniforms ``[samples * batch, k]`` for z_pres and standard normals ``[samples *
        batch, k, 3 + z_what_size]`` for z_where and z_what (sample-major); a function of
        (seed, step) only, drawn for the global batch and sliced per replica. With a
        background the normals have one row more, its first background_size numbers
        z_bg's."""
        c = self.config
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        seeds = tf.random.experimental.stateless_split(seed, 2)
        total = batch * replicas
        uniform = tf.random.stateless_uniform([samples * total, c.steps], seeds[0],
                                              alg='philox')
        rows = c.steps + 1 if c.air_background else c.steps   # the last row: z_bg's noise
        normal = tf.random.stateless_normal([samples * total, rows, 3 + c.z_what_size],
                                            seeds[1], alg='philox')
        part = slice(replica * batch, (replica + 1) * batch)
        if samples == 1:
            return uniform[part], normal[part]
        mine = lambda x: tf.reshape(  # noqa: E731
            tf.reshape(x, [samples, total, *x.shape[1:]])[:, part], [-1, *x.shape[1:]])
        return mine(uniform), mine(normal)

    # ---- the generative model -------------------------------------------------------------
    def background_image(self, steps):
        """The decoded background ``[b, H, W]`` of guide ``steps`` (notes eq. 12), or 0."""
        c = self.config
        if not c.air_background:
            return 0.0
        pixels = tf.sigmoid(self.bg_decode(steps[-1].background[0]))
        return tf.reshape(pixels, [-1, c.scene_height, c.scene_width])

    def background_terms(self, steps):
        """log p(z_bg) - log q(z_bg) ``[b]`` of guide ``steps`` (0 without a background)."""
        if not self.config.air_background:
            return 0.0
        z_bg, log_q = steps[-1].background
        return normal_log_prob(z_bg, 0.0, 1.0) - log_q

    def decode_windows(self, z_what):
        """Decoded windows ``[b, A, A]`` of codes ``z_what [b, Z]``."""
        c = self.config
        pixels = tf.sigmoid(self.decode(z_what) + c.decoder_output_bias)
        return tf.reshape(pixels, [-1, c.window_size, c.window_size])

    def render(self, z_pres, z_where, z_what):
        """The model's mean image ``[b, H, W]``: each present object's decoded window, placed
        by z_where, added onto a black canvas (lists over the steps)."""
        c = self.config
        canvas = 0.0
        for pres, where, what in zip(z_pres, z_where, z_what, strict=True):
            placed = window_to_image(self.decode_windows(what), where, c.scene_height,
                                     c.scene_width)
            canvas = canvas + placed * pres[:, None, None]
        return canvas

    def elbo_terms(self, images, steps):
        """log p and log q of the guide's ``steps`` on ``images``, as ElboTerms."""
        c = self.config
        prev_pres, site_costs, log_p, log_q = tf.ones_like(steps[0].pres_prob), [], 0.0, 0.0
        for t, step in enumerate(steps):
            s = step.state
            present = s.z_pres > 0.0
            lp_pres = bernoulli_log_prob(self.prior_trials[t] * prev_pres, s.z_pres)
            lp_rest = (normal_log_prob(s.z_where, self.where_prior_loc, self.where_prior_sd)
                       + normal_log_prob(s.z_what, 0.0, 1.0))
            lq_rest = step.log_q_where + step.log_q_what
            lp_rest = tf.where(present, lp_rest, 0.0)   # absent objects have no z_where, z_what
            lq_rest = tf.where(present, lq_rest, 0.0)
            site_costs.append(lp_pres - step.log_q_pres + lp_rest - lq_rest)
            log_p += lp_pres + lp_rest
            log_q += step.log_q_pres + lq_rest
            prev_pres = s.z_pres
        canvas = self.render([s.state.z_pres for s in steps], [s.state.z_where for s in steps],
                             [s.state.z_what for s in steps]) + self.background_image(steps)
        b = tf.shape(images)[0]
        log_lik = normal_log_prob(tf.reshape(images, [b, -1]), tf.reshape(canvas, [b, -1]),
                                  c.likelihood_sd)
        if c.air_background:   # z_bg follows every step: a cost downstream of each z_pres
            z_bg, log_q_bg = steps[-1].background
            log_p += normal_log_prob(z_bg, 0.0, 1.0)
            log_q += log_q_bg
            site_costs[-1] += self.background_terms(steps)
        return ElboTerms(tf.stack(site_costs, 1), log_lik,
                         tf.stack([s.log_q_pres for s in steps], 1),
                         tf.stack([s.baseline for s in steps], 1), log_p + log_lik, log_q,
                         canvas)

    def elbo_graph(self, images, noise=None):
        """Per-scene ELBO ``[b]``: log p(x, z) - log q(z | x) at one guide sample (``noise``
        default: drawn for step -1)."""
        if noise is None:
            noise = self.draw_noise(tf.shape(images)[0], -1)
        terms = self.elbo_terms(images, self.guide(images, noise))
        return terms.log_p - terms.log_q

    def elbo(self, images):
        """Per-scene ELBO ``[b]`` at one guide sample."""
        return self._elbo(tf.convert_to_tensor(images, tf.float32))

    # ---- learning -------------------------------------------------------------------------
    def loss_and_gradients_graph(self, images, noise, replicas=1):
        """This replica's share of the negative mean ELBO, and the gradients of the
        estimator's surrogate (a sum over the scenes, as Pyro's, so replicas' gradients add
        up to one device's on the whole batch)."""
        objective = {'nvil': self.nvil_objective, 'vimco': self.vimco_objective,
                     'summed': self.summed_objective,
                     'relaxed': self.relaxed_objective}[self.config.estimator]
        with tf.GradientTape() as tape:
            elbo, surrogate = objective(images, noise)
        loss = -tf.reduce_sum(elbo) / tf.cast(tf.shape(images)[0] * replicas, tf.float32)
        grads = tape.gradient(surrogate, self.model_variables,
                              unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return loss, [tf.convert_to_tensor(g) for g in grads]

    # ---- inference ------------------------------------------------------------------------
    def detect_graph(self, images):
        """The greedy guide pass (z_pres >= 0.5, means of q) as the serving dict; z_where
        is AIR's ``(s, x, y)``; beside the shared keys, ``z_what [b, k, Z]`` (each step's
        code: the objects as features, the AIR paper's Fig. 7)."""
        steps = self.guide(images)
        z_pres = tf.stack([s.pres_prob for s in steps], 1)
        z_where = tf.stack([s.state.z_where for s in steps], 1)
        c = self.config
        return {'z_pres': z_pres, 'z_where': z_where,
                'z_what': tf.stack([s.state.z_what for s in steps], 1),
                'count': tf.reduce_sum(tf.cast(z_pres >= 0.5, tf.int32), axis=1),
                'boxes': window_boxes(z_where, c.scene_height, c.scene_width)}

    def reconstruct_graph(self, images):
        """The greedy pass's decoded objects added up, ``[b, H, W, 1]`` in [0, 1]."""
        return self.rebuilt(self.guide(images))

    def rebuilt(self, steps):
        """The decoded objects of guide ``steps`` added up (onto the background, if the
        model has one), ``[b, H, W, 1]`` in [0, 1]."""
        canvas = self.render([s.state.z_pres for s in steps], [s.state.z_where for s in steps],
                             [s.state.z_what for s in steps]) + self.background_image(steps)
        return tf.clip_by_value(canvas, 0.0, 1.0)[..., None]

    def detect(self, images):
        """The Detection of images ``[b, H, W, 1]``, greedy."""
        out = self._detect(tf.convert_to_tensor(images, tf.float32))
        return Detection(**{k: out[k] for k in Detection._fields})

    def sampled_counts_graph(self, images):
        """Counts of one sampled guide pass (Pyro's way of counting), noise of step -2."""
        steps = self.guide(images, self.draw_noise(tf.shape(images)[0], -2))
        return tf.cast(tf.add_n([s.state.z_pres for s in steps]), tf.int32)

    def averaged_epochs(self):
        """AIR ends with its last weights, as Pyro's example does."""
        return 0

    def extra_metrics(self, scenes):
        """Pyro's count accuracy: one sampled guide pass per scene (the tutorial measures it
        on the training scenes; here on the scenes given)."""
        if scenes.counts is None:
            return {}
        counts = np.concatenate([self._counts(scenes.images[s:s + 2500]).numpy()
                                 for s in range(0, len(scenes), 2500)])
        return {'sampled_count_acc': float(np.mean(counts == scenes.counts))}

    def reconstruct(self, images):
        """The greedy pass's boxes, presence and mean images, as numpy arrays."""
        steps = self.guide(tf.convert_to_tensor(images, tf.float32))
        z_where = tf.stack([s.state.z_where for s in steps], 1)
        c = self.config
        return (window_boxes(z_where, c.scene_height, c.scene_width).numpy(),
                tf.stack([s.state.z_pres for s in steps], 1).numpy() > 0,
                self.rebuilt(steps).numpy())

    def sample_scenes(self, n, seed=0):
        """``n`` scenes from the prior: ``(images [n, H, W, 1], boxes, present)``."""
        c = self.config
        rng = np.random.default_rng(seed)
        going = rng.uniform(size=[n, c.steps]) < self.prior_trials.numpy()
        present = np.cumprod(going, axis=1).astype(np.float32)
        z_where = (self.where_prior_loc.numpy()
                   + self.where_prior_sd.numpy() * rng.normal(size=[n, c.steps, 3]))
        z_where = z_where.astype(np.float32)
        z_what = rng.normal(size=[n, c.steps, c.z_what_size]).astype(np.float32)
        canvas = self.render(list(present.T), list(z_where.transpose(1, 0, 2)),
                             list(z_what.transpose(1, 0, 2)))
        if c.air_background:   # a z_bg from its prior, drawn after the objects' latents
            z_bg = rng.normal(size=[n, c.background_size]).astype(np.float32)
            canvas += tf.reshape(tf.sigmoid(self.bg_decode(z_bg)), tf.shape(canvas))
        return (np.clip(canvas.numpy(), 0.0, 1.0)[..., None],
                window_boxes(z_where, c.scene_height, c.scene_width).numpy(), present > 0)

    def pictures(self, scenes, seed=0):
        """Boxes, reconstructions and samples from the prior, ``{name: PIL image}``."""
        return training_pictures(self, scenes, seed)

    def sample_pictures(self, n, seed=0):
        """``n`` scenes drawn from the model's prior, ``{name: PIL image}``."""
        return sample_pictures(self, n, seed)
