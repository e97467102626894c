"""How AIR learns z_pres (``AirConfig.estimator``; Kosior's notes on AIR, section 5): Pyro's
NVIL surrogate, VIMCO's multi-sample bound, the count summed out, the Binary Concrete
relaxation. A mixin of Air: each objective reads the model's guide, prior and renderer and
returns the per-scene ELBO ``[b]`` and the surrogate whose gradient the step follows."""

import math

import tensorflow as tf

from air_tf.densities import (
    concrete_log_density,
    count_log_probs,
    leave_one_out_bounds,
    normal_log_prob,
)
from air_tf.transformer import window_to_image


class Estimators:
    """The objectives of Air's estimators (Air.loss_and_gradients_graph picks one)."""

    def surrogate(self, terms):
        """Pyro's TraceGraph_ELBO surrogate loss (and its baselines' loss) of one sample.

        Every log-density carries the data plate's scale ``S = train_scenes / batch``.
        z_pres of step t is scored by its downstream cost, the sum of the costs of every
        site that depends on it (steps t and later, and the likelihood), less the
        baseline; the baseline regresses that cost by squared error. As in Pyro, the cost
        is scaled and the score ``log q(z_pres_t)`` is not (ScoreParts.scale_and_mask
        scales the log-density and the entropy term only).
        """
        scale = self.config.data_scale
        site_costs = terms.site_costs
        downstream = tf.cumsum(site_costs, axis=1, reverse=True) + terms.log_lik[:, None]
        downstream = tf.stop_gradient(scale * downstream)
        # The reparameterised part: log p of every site and log q of z_where and z_what
        # (log q of z_pres enters only through the score, as its entropy term is zero).
        reparameterised = scale * (terms.log_p - (terms.log_q
                                                  - tf.reduce_sum(terms.log_q_pres, 1)))
        score = terms.log_q_pres * tf.stop_gradient(downstream - terms.baseline)
        baseline_loss = tf.reduce_sum(tf.square(downstream - terms.baseline))
        return -(tf.reduce_sum(reparameterised) + tf.reduce_sum(score)) + baseline_loss

    def nvil_objective(self, images, noise):
        """Per-scene ELBO ``[b]`` at one guide sample, and Pyro's surrogate (NVIL)."""
        terms = self.elbo_terms(images, self.guide(images, noise))
        return terms.log_p - terms.log_q, self.surrogate(terms)

    def vimco_objective(self, images, noise):
        """VIMCO (Mnih & Rezende 2016, eqs. 5-10): the K-sample bound ``log mean_k w_k``
        (its gradient through every reparameterised site and log q), and z_pres of sample
        k scored by the bound less the bound with ``log w_k`` replaced by the mean of the
        others' (its leave-one-out baseline). ``noise`` holds K samples per scene
        (step_noise). Returns the mean single-sample ELBO ``[b]`` and the surrogate."""
        k = self.config.vimco_samples
        tiled = tf.tile(images, [k, 1, 1, 1])           # sample-major, as the noise
        terms = self.elbo_terms(tiled, self.guide(tiled, noise))
        log_w = tf.reshape(terms.log_p - terms.log_q, [k, -1])
        bound = tf.reduce_logsumexp(log_w, 0) - math.log(k)
        signal = tf.stop_gradient(bound[None] - leave_one_out_bounds(log_w))
        log_q_pres = tf.reshape(tf.reduce_sum(terms.log_q_pres, 1), [k, -1])
        surrogate = -self.config.data_scale * (tf.reduce_sum(bound)
                                               + tf.reduce_sum(signal * log_q_pres))
        return tf.reduce_mean(log_w, 0), surrogate

    def summed_objective(self, images, noise):
        """The ELBO with the count summed out (SuPAIR's eq. 9 for AIR's model): the guide
        runs every step as present (its z_pres probabilities then give q(N = n) for each
        n), z_where and z_what reparameterised, and
        ``ELBO = sum_n q(n) [log p(n) - log q(n) + sum_{t<n} (log p - log q)(z_t)
        + log p(x | z_1..z_n)]``: no score function. A background's q(z_bg) reads the
        all-present pass's last state, the same for every n (a bound still), its terms
        added once. Returns it ``[b]`` and its negation scaled as Pyro scales
        log-densities."""
        c = self.config
        uniform, normal = noise
        steps = self.guide(images, (-tf.ones_like(uniform), normal))   # every step present
        pres = tf.stack([s.pres_prob for s in steps], 1)                # [b, k]
        log_q_n = count_log_probs(pres)
        log_p_n = count_log_probs(tf.broadcast_to(self.prior_trials, tf.shape(pres)))
        objects = tf.stack([
            normal_log_prob(s.state.z_where, self.where_prior_loc, self.where_prior_sd)
            + normal_log_prob(s.state.z_what, 0.0, 1.0) - s.log_q_where - s.log_q_what
            for s in steps], 1)
        b = tf.shape(images)[0]
        placed = tf.stack([tf.reshape(window_to_image(
            self.decode_windows(s.state.z_what), s.state.z_where, c.scene_height,
            c.scene_width), [b, -1]) for s in steps], 1)                 # [b, k, H * W]
        canvases = tf.cumsum(tf.pad(placed, [[0, 0], [1, 0], [0, 0]]), axis=1)
        if c.air_background:
            canvases += tf.reshape(self.background_image(steps), [b, 1, -1])
        log_lik = normal_log_prob(tf.reshape(images, [b, 1, -1]), canvases, c.likelihood_sd)
        per_count = (log_p_n - log_q_n + log_lik
                     + tf.cumsum(tf.pad(objects, [[0, 0], [1, 0]]), axis=1))
        elbo = tf.reduce_sum(tf.exp(log_q_n) * per_count, 1) + self.background_terms(steps)
        return elbo, -c.data_scale * tf.reduce_sum(elbo)

    def prior_logit(self, step):
        """The relaxed z_pres prior's log-odds at training ``step``: ``log`` of the first
        of relaxed_prior_odds, less log 10 every relaxed_anneal_steps, down to the second."""
        c = self.config
        start, end = (math.log(odds) for odds in c.relaxed_prior_odds)
        drops = tf.floor(tf.cast(step, tf.float32) / c.relaxed_anneal_steps)
        return tf.maximum(start - drops * math.log(10.0), end)

    def relaxed_objective(self, images, noise):
        """The relaxed ELBO (aakhundov's AIR): z_pres_t = sigmoid(y_t) z_pres_(t-1), y_t
        a Binary Concrete logit; each object's window scaled by z_pres_t onto the canvas, its
        z_where and z_what terms weighted by z_pres_t, and y_t's log q - log p (the prior a
        Binary Concrete of the annealed odds, at the same temperature) by z_pres_(t-1), the
        share of the chain that reaches step t. ``noise``: (uniforms, normals, step).
        Returns it ``[b]`` and its negation, scaled as Pyro scales log-densities."""
        c = self.config
        steps = self.guide(images, noise[:2], relaxed=True)
        prior = self.prior_logit(noise[2])
        reached, total = tf.ones_like(steps[0].pres_prob), 0.0
        for s in steps:
            rest = (normal_log_prob(s.state.z_where, self.where_prior_loc, self.where_prior_sd)
                    + normal_log_prob(s.state.z_what, 0.0, 1.0) - s.log_q_where - s.log_q_what)
            total += reached * (concrete_log_density(s.relaxed, prior, c.relaxed_temperature)
                                - s.log_q_pres) + s.state.z_pres * rest
            reached = s.state.z_pres
        canvas = self.render(*([getattr(s.state, k) for s in steps]
                               for k in ('z_pres', 'z_where', 'z_what')))
        canvas += self.background_image(steps)
        total += self.background_terms(steps)
        b = tf.shape(images)[0]
        elbo = total + normal_log_prob(tf.reshape(images, [b, -1]), tf.reshape(canvas, [b, -1]),
                                       c.likelihood_sd)
        return elbo, -c.data_scale * tf.reduce_sum(elbo)
