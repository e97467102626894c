"""How SuPAIR is trained, apart from the model: the warm-ups of ``procedure='explore'``
(docs/procedure_study.md) as functions of the training step, and what each step draws.

Under ``procedure='paper'`` (the authors') every warm-up is at the paper's value and the
objective is the authors' graph; nothing here reads a count label.
"""

import math
from typing import NamedTuple

import tensorflow as tf


class TrainingDraw(NamedTuple):
    """What training step ``step`` draws and depends on (Supair.step_noise)."""

    where: tf.Tensor            # [b, k, 4] standard normal noise that samples z_where
    presence_floor: tf.Tensor   # scalar: the least z_pres of q this step (0: the paper's q)
    bonus_share: tf.Tensor      # scalar: the share of log(overlap_rate) an object earns (1)
    min_scale: tf.Tensor        # scalar: the least box width / A this step (min_obj_scale)
    spread: tf.Tensor           # scalar: pixels added to q's std of the box position (0)


def where_noise(seed, steps, batch, step, replica=0, replicas=1):
    """Standard normal noise ``[batch, steps, 4]`` that samples z_where at training ``step``.

    A function of (seed, step) only, drawn for the global batch and sliced per replica:
    one device and several draw the same numbers, and a resumed run draws what the
    interrupted one would have.
    """
    key = tf.stack([tf.constant(seed, tf.int64), tf.cast(step, tf.int64)])
    # Philox named, not left to the device: XLA would pick another generator.
    noise = tf.random.stateless_normal([batch * replicas, steps, 4], key, alg='philox')
    return noise[replica * batch:(replica + 1) * batch]


def raise_presence(z_pres, floor):
    """q's presence probabilities ``[b, k]`` raised to f + (1 - f) z_pres (``floor`` f;
    None: unchanged). Any q gives a lower bound on log p(x): this one tries more objects."""
    return z_pres if floor is None else floor + (1.0 - floor) * z_pres


def withhold_bonus(object_terms, share, overlap_rate):
    """Each object's term ``[b, k]`` less (1 - share) log(overlap_rate) (``share`` None:
    unchanged): a looser lower bound, without the overlap prior's reward per object."""
    if share is None:
        return object_terms
    return object_terms - (1.0 - share) * math.log(overlap_rate)


def widen_later_positions(where_std, spread):
    """q's std of z_where ``[b, k, 4]`` with ``spread`` pixels added to the position (x, y)
    of every box after the first."""
    steps = where_std.shape[1]
    later = tf.constant([[0.0] * 4] + [[0.0, 0.0, 1.0, 1.0]] * (steps - 1))
    return where_std + spread * later


def ramp(step, steps):
    """0 at step 0, rising linearly to 1 at ``steps`` (> 0), 1 after."""
    return tf.minimum(tf.cast(step, tf.float32) / float(steps), 1.0)


class Procedure:
    """The training schedule a SupairConfig describes."""

    def __init__(self, config):
        self.config = config
        self.explores = config.procedure == 'explore'

    def warm_up(self, step, start, end, steps):
        """``end`` (the paper's value), or under explore a value going linearly from
        ``start`` at step 0 to ``end`` at ``steps`` (``end`` after)."""
        if not self.explores or steps == 0:
            return tf.constant(float(end))
        return start + (end - start) * ramp(step, steps)

    def presence_floor(self, step):
        """The least presence probability q may give at training ``step``: under explore it
        falls from ``explore_floor`` to 0 over ``explore_steps``, so that the second and
        third boxes keep learning where to go while q would rather not use them."""
        c = self.config
        return self.warm_up(step, c.explore_floor, 0.0, c.explore_steps)

    def bonus_share(self, step):
        """The share of the overlap term's constant log(overlap_rate) that each object
        earns at training ``step``. The Gamma(1, rate) density at zero overlap is the rate,
        so every object that overlaps none earns log 120 = 4.8 nats, more than the count
        prior's 0.7 takes: two boxes on one object gain ~4 nats over one. Under explore the
        share rises from 0 to 1 over ``overlap_warmup`` steps; 1 otherwise."""
        return self.warm_up(step, 0.0, 1.0, self.config.overlap_warmup)

    def min_scale(self, step):
        """The least box width (relative to A) at training ``step``: under explore it falls
        from ``explore_min_scale`` (0: no warm-up) to ``min_obj_scale`` over
        ``explore_steps``, so that the object SPN first learns whole objects, not the
        fragments that tiny boxes see; ``min_obj_scale`` otherwise."""
        c = self.config
        return self.warm_up(step, c.explore_min_scale or c.min_obj_scale, c.min_obj_scale,
                            c.explore_steps)

    def spread(self, step):
        """Pixels added to the std of q's position of the second and later boxes at
        training ``step``: under explore it falls from ``explore_spread`` to 0 over
        ``explore_steps``, so that a box q does not yet use samples places away from where
        it sits (q's own std is at most 0.3 pixels) and learns where another object is.
        (Spread on the first box too, nothing is found for two epochs.)"""
        c = self.config
        return self.warm_up(step, c.explore_spread, 0.0, c.explore_steps)

    def gated(self, value, paper, z_pres, each_box=False):
        """A warm-up's ``value`` this step (None: off), under ``explore_gate`` (g) moved
        towards its ``paper`` value: ``paper + clip(1 - u / g, 0, 1) (value - paper)``, u
        the batch's mean z_pres ``[b, k]`` of the first box (a constant to the gradient).
        A run whose q uses its first box trains on the paper's objective; one where q has
        stopped using it (nothing found) gets the warm-ups back. Label-free: u is q's own
        output, known before the box widths and positions it gates are formed.

        ``each_box`` (the presence floor under ``explore_gate_each``): a value ``[k]``, box
        k's warm-up gated by box k's own mean z_pres, so that a second box q leaves unused
        on a run whose first box is in use still gets the floor."""
        gate = self.config.explore_gate
        if value is None or not gate:
            return value
        use = tf.stop_gradient(tf.reduce_mean(z_pres if each_box else z_pres[:, 0], axis=0))
        return paper + tf.clip_by_value(1.0 - use / gate, 0.0, 1.0) * (value - paper)

    def draw(self, where, step):
        """Training step ``step``'s TrainingDraw around its z_where noise ``where``."""
        return TrainingDraw(where, self.presence_floor(step), self.bonus_share(step),
                            self.min_scale(step), self.spread(step))

    def objective_args(self, noise):
        """``(z_where noise, warm-ups)`` for Supair.elbo_graph from a TrainingDraw or from
        z_where noise alone: under the paper's procedure no warm-ups, so that its graph is
        the authors', not one that adds a zero."""
        if not isinstance(noise, TrainingDraw):
            return noise, ()
        if not self.explores:
            return noise.where, ()
        # A warm-up the config turns off is left out of the graph (None: the paper's term),
        # where it would add a zero or scale by one: the same numbers, fewer operations.
        c = self.config
        active = (c.explore_floor > 0, c.overlap_warmup > 0, c.explore_min_scale > 0,
                  c.explore_spread > 0)
        warm_ups = (noise.presence_floor, noise.bonus_share, noise.min_scale, noise.spread)
        return noise.where, tuple(w if on else None for w, on in zip(warm_ups, active,
                                                                     strict=True))

    def averaged_epochs(self):
        """How many epoch ends the model a run ends with averages: ``average_epochs`` under
        explore; the paper's procedure ends with its last weights (0)."""
        return self.config.average_epochs if self.explores else 0
