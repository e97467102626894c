"""What the trainer, evaluation, export and run.py ask of a model: all of it, written down.

SuPAIR (supair_tf.Supair) and AIR (air_tf.Air) keep this interface; nothing in shared/
asks which of the two it holds. ``b`` is a batch of scenes ``[b, H, W, C]``, float32 in
[0, 1]; ``k`` is ``config.steps``.
"""

from typing import Any, NamedTuple, Protocol

import tensorflow as tf


class Detection(NamedTuple):
    """What ``detect`` finds in ``b`` scenes. The SavedModel's ``detect`` returns the same
    fields as a dict (its serving contract)."""

    count: tf.Tensor        # [b] int32: the steps with z_pres >= 0.5
    z_pres: tf.Tensor       # [b, k] presence probabilities
    z_where: tf.Tensor      # [b, k, ...] the model's own box parameters (README)
    boxes: tf.Tensor        # [b, k, 4] (y0, x0, y1, x1) in pixels


class Model(Protocol):
    """A scene model the product can train, evaluate, checkpoint, draw and export."""

    config: Any  # .scene_shape (H, W, C), .steps, .batch_size, .epochs, .data_order
    label: str   # the model's name in messages: 'SuPAIR', 'AIR'

    @property
    def model_variables(self) -> list:
        """Every trained variable, in a fixed order (the gradients' order)."""

    def parameter_groups(self) -> list:
        """``[(name, learning_rate, variables)]``: the variables split into groups that
        concatenate to ``model_variables``; the trainer runs one Adam per group (the first
        group's counts the steps)."""

    def parameter_counts(self) -> dict:
        """Parameters by part and ``total`` (the paper's Table 1), printed at the start."""

    def step_noise(self, batch, step, replica=0, replicas=1) -> Any:
        """The randomness of training step ``step`` for ``batch`` scenes: a function of the
        model's seed and the step only, so a resumed run draws what an uninterrupted one
        would have; drawn for the global batch and sliced for ``replica``."""

    def loss_and_gradients(self, images, noise, replicas=1) -> tuple:
        """``(loss, gradients)``: this replica's share of the negative mean ELBO of the
        batch (what metrics.csv's ``train_elbo`` reports, negated) and the gradients the
        model learns from, in ``model_variables`` order; a compiled tf.function."""

    def detect(self, images) -> Detection:
        """The objects found in ``images``."""

    def detect_graph(self, images) -> dict:
        """``detect`` as a graph function returning a dict (exported)."""

    def elbo(self, images) -> tf.Tensor:
        """Per-scene ELBO ``[b]``."""

    def elbo_graph(self, images) -> tf.Tensor:
        """``elbo`` as a graph function (exported)."""

    def reconstruct_graph(self, images) -> tf.Tensor:
        """The scenes ``[b, H, W, C]`` as the model rebuilds them, a graph function
        (exported as ``reconstruct``)."""

    def extra_metrics(self, scenes) -> dict:
        """``{name: value}`` the model reports beside the shared figures of an evaluation
        (printed, not in metrics.csv)."""

    def averaged_epochs(self) -> int:
        """K: the model a finished run evaluates and exports is the mean of
        ``model_variables`` at the ends of its last K epochs (0: its last weights)."""

    def pictures(self, scenes, seed=0) -> dict:
        """``{name: PIL image}`` drawn at every epoch: ``boxes``, ``recon``, ``samples``."""

    def sample_pictures(self, n, seed=0) -> dict:
        """``{name: PIL image}`` of ``n`` scenes drawn from the model (``--mode=sample``)."""
