"""AIR's guide (Eslami et al. 2016, section 2.1, Fig. 2), a mixin of Air: an LSTM reads the
image (DAIR: the error canvas) and the previous step's latents and proposes each step's
z_pres and z_where; an encoder reads the window z_where cuts out and proposes z_what. One
step's state is a named tuple (``GuideState``), each step one call (``guide_step``)."""

from typing import NamedTuple

import tensorflow as tf

from air_tf.densities import (
    FLOAT_EPS,
    bernoulli_log_prob,
    concrete_log_density,
    normal_log_prob,
)
from air_tf.transformer import image_to_window


class GuideState(NamedTuple):
    """What one step of the guide hands to the next (``b`` scenes)."""

    h: tf.Tensor        # [b, units] guide LSTM
    c: tf.Tensor
    bl_h: tf.Tensor     # [b, units] baseline LSTM
    bl_c: tf.Tensor
    z_pres: tf.Tensor   # [b] 0 or 1
    z_where: tf.Tensor  # [b, 3] (s, x, y)
    z_what: tf.Tensor   # [b, z_what_size]


class GuideStep(NamedTuple):
    """One step's sample and its guide terms (log q unmasked: the ELBO masks them)."""

    state: GuideState
    pres_prob: tf.Tensor    # [b] q's probability of z_pres = 1 (0 once a step said stop)
    log_q_pres: tf.Tensor   # [b]
    log_q_where: tf.Tensor  # [b]
    log_q_what: tf.Tensor   # [b]
    baseline: tf.Tensor     # [b] the baseline net's estimate of the downstream cost
    relaxed: tf.Tensor = None  # estimator='relaxed': [b] the Binary Concrete sample's logit
    background: tuple = None   # the last step, with a background: (z_bg [b, D], log q(z_bg))


class Guide:
    """The guide's steps (Air supplies the networks, the config and ``render``)."""

    def initial_state(self, b):
        """The learned initial state of ``b`` scenes; z_pres starts at 1."""
        expand = lambda v: tf.tile(v, [b, 1])  # noqa: E731
        return GuideState(expand(self.h_init), expand(self.c_init), expand(self.bl_h_init),
                          expand(self.bl_c_init), tf.ones([b]), expand(self.z_where_init),
                          expand(self.z_what_init))

    def guide_step(self, t, prev, images, image_input, noise, relaxed=False):
        """Step ``t``: the LSTMs read the image (``image_input``: its projections, once per
        scene) and the previous latents; z_pres, z_where and z_what are sampled with
        ``noise = (uniform [b, k], normal [b, k, 3 + Z])``, or (``noise`` None) set
        greedily: z_pres = [q(z_pres) >= 0.5], z_where and z_what the means of q. With
        ``relaxed``, z_pres is the Binary Concrete sample sigmoid(y) of the same uniforms."""
        c = self.config
        pixels = c.scene_height * c.scene_width
        latents = tf.concat([prev.z_where, prev.z_what, prev.z_pres[:, None]], axis=-1)
        h, cell = self.rnn.step(image_input[0] + self.rnn.input_projection(latents, pixels),
                                prev.h, prev.c)
        out = self.predict(h)
        pres_prob = tf.sigmoid(out[:, 0]) * prev.z_pres
        where_mean = out[:, 1:4] + self.where_prior_loc
        where_sd = tf.nn.softplus(out[:, 4:7]) * self.where_prior_sd
        # The baseline reads the same, its latents cut off from the guide's gradients.
        bl_latents = tf.stop_gradient(latents)
        bl_h, bl_c = self.bl_rnn.step(
            image_input[1] + self.bl_rnn.input_projection(bl_latents, pixels),
            prev.bl_h, prev.bl_c)
        baseline = self.bl_predict(bl_h)[:, 0] * prev.z_pres
        logit = None   # of the relaxed z_pres sample
        if noise is None:
            z_pres = tf.cast(pres_prob >= 0.5, tf.float32)
        elif relaxed:   # Binary Concrete: sigmoid((logit + Logistic noise) / temperature)
            u = tf.clip_by_value(noise[0][:, t], FLOAT_EPS, 1.0 - FLOAT_EPS)
            logit = (out[:, 0] + tf.math.log(u) - tf.math.log1p(-u)) / c.relaxed_temperature
            z_pres = tf.sigmoid(logit) * prev.z_pres
            log_q_pres = concrete_log_density(logit, out[:, 0], c.relaxed_temperature)
        else:
            z_pres = tf.cast(noise[0][:, t] < pres_prob, tf.float32)
        if logit is None:
            log_q_pres = bernoulli_log_prob(pres_prob, z_pres)
        z_where = where_mean if noise is None else where_mean + where_sd * noise[1][:, t, :3]
        window = image_to_window(images, z_where, c.window_size)
        encoded = self.encode(tf.reshape(window, [-1, c.window_size * c.window_size]))
        what_mean = encoded[:, :c.z_what_size]
        what_sd = tf.nn.softplus(encoded[:, c.z_what_size:])
        z_what = what_mean if noise is None else what_mean + what_sd * noise[1][:, t, 3:]
        state = GuideState(h, cell, bl_h, bl_c, z_pres, z_where, z_what)
        return GuideStep(state, pres_prob, log_q_pres,
                         normal_log_prob(z_where, where_mean, where_sd),
                         normal_log_prob(z_what, what_mean, what_sd), baseline, logit)

    def guide_sees(self, flat, canvas):
        """What the LSTMs read of scenes ``flat [b, H * W]`` at a step whose earlier objects
        make the mean image ``canvas`` (same shape): AIR the scene, DAIR the error canvas
        ``canvas - flat`` (at the first step, with nothing drawn, the negated scene)."""
        return canvas - flat if self.reads_error else flat

    def guide(self, images, noise=None, relaxed=False):
        """The guide's steps on ``images [b, H, W, 1]`` (sampled with ``noise``, else
        greedy). AIR projects the scene into the LSTMs once; DAIR projects each step's
        error canvas, drawing each object's decoded window as it is found."""
        c = self.config
        flat = tf.reshape(images, [-1, c.scene_height * c.scene_width])
        canvas = tf.zeros_like(flat)
        state, steps, image_input = self.initial_state(tf.shape(images)[0]), [], None
        for t in range(c.steps):
            if image_input is None or self.reads_error:
                seen = self.guide_sees(flat, canvas)
                # The baseline's input cut off from the gradients, as its latents are:
                # DAIR's error canvas depends on the decoder and the guide, which the
                # baseline's squared error must not train.
                image_input = (self.rnn.input_projection(seen),
                               self.bl_rnn.input_projection(tf.stop_gradient(seen)))
            step = self.guide_step(t, state, images, image_input, noise, relaxed)
            steps.append(step)
            state = step.state
            if self.reads_error and t + 1 < c.steps:
                canvas += tf.reshape(self.render([state.z_pres], [state.z_where],
                                                 [state.z_what]), tf.shape(flat))
        if c.air_background:
            steps[-1] = steps[-1]._replace(background=self.propose_background(state.h, noise))
        return steps

    def propose_background(self, h, noise):
        """``(z_bg, log q(z_bg))`` from the guide's last LSTM state ``h`` (notes eq. 11):
        sampled with the last row of ``noise``'s normals, else q's mean."""
        size = self.config.background_size
        out = self.bg_propose(h)
        mean, sd = out[:, :size], tf.nn.softplus(out[:, size:])
        z_bg = mean if noise is None else mean + sd * noise[1][:, -1, :size]
        return z_bg, normal_log_prob(z_bg, mean, sd)
