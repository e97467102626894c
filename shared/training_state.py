"""What a checkpoint holds of a training run, and how it is written and read back."""

import collections
import json

import numpy as np
import tensorflow as tf

from shared.run_folder import RunFolder

TRAIN_ELBO_WINDOW = 20  # train_elbo in metrics.csv: mean over this many last batches
# Present in checkpoints of an older layout, which kept Adam under the model.
LEGACY_ADAM_KEY = 'model/optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE'
WINDOW_KEY = 'recent_train_elbos/.ATTRIBUTES/VARIABLE_VALUE'


def read_window(path):
    """The train-ELBO window a checkpoint holds, as float64 (NaN where empty; all NaN in
    checkpoints older than the window, which lack it)."""
    reader = tf.train.load_checkpoint(path)
    if not reader.has_tensor(WINDOW_KEY):
        return np.full(TRAIN_ELBO_WINDOW, np.nan)
    return reader.get_tensor(WINDOW_KEY).astype(np.float64)


class CheckpointError(Exception):
    """A run directory whose checkpoints cannot be read."""


class TrainingState:
    """The checkpointed state of a run: the model, Adam (whose ``iterations`` is the step),
    the training seconds, the last training ELBOs of the epoch (so that a resumed run
    averages the same batches as an uninterrupted one) and a copy of the run's settings
    (the run folder's truth if settings.json is lost).

    Checkpoints are read from ``folder`` (a RunFolder) and written there, or into
    ``scratch`` (the workers of a multi-worker run other than the chief).
    """

    def __init__(self, model, optimizers, folder, settings=None, scratch=None):
        optimizers = optimizers if isinstance(optimizers, (list, tuple)) else [optimizers]
        self.model, self.optimizer, self.folder = model, optimizers[0], folder
        # A model with several parameter groups (AIR's baselines) has an Adam for each; the
        # first is 'optimizer', as in every checkpoint of a one-group model (SuPAIR).
        optimizer = self.optimizer
        more = {f'optimizer_{name}': o for (name, _, _), o in
                zip(model.parameter_groups()[1:], optimizers[1:], strict=True)}
        self.recent_elbos = collections.deque(maxlen=TRAIN_ELBO_WINDOW)
        # float64, the precision the trainer averages in: a resumed run's train_elbo equals an
        # uninterrupted one's to the last digit (older checkpoints hold it as float32).
        self.window = tf.Variable(tf.fill([TRAIN_ELBO_WINDOW], np.float64(np.nan)),
                                  trainable=False)
        self.train_seconds = tf.Variable(0.0, dtype=tf.float64, trainable=False)
        self.settings = tf.Variable(json.dumps(settings or {}), dtype=tf.string,
                                    trainable=False)
        # What a checkpoint must hold, and all it holds (the window and settings are newer).
        self.required = tf.train.Checkpoint(model=model, optimizer=optimizer, **more,
                                            train_seconds=self.train_seconds)
        self.checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, **more,
                                              train_seconds=self.train_seconds,
                                              recent_train_elbos=self.window,
                                              settings=self.settings)
        self.writes_to = RunFolder(scratch) if scratch else folder
        if scratch is None:
            folder.repair_checkpoint_state()  # a state file a kill left stale or lost
        self.saved_step = None  # the step of the checkpoint last written or read here
        self.restored_from = None  # the checkpoint restore() read

    @property
    def step(self):
        """The step counter (a variable): Adam's iterations."""
        return self.optimizer.iterations

    def restore(self, say=print):
        """Continues from the newest readable checkpoint of the run folder, if any (a damaged
        newer one is skipped, said through ``say``); returns its step. Checkpoints are found
        from their files, so a lost or stale state file loses none."""
        found = self.folder.checkpoints()
        for path in reversed(found):
            try:
                self._restore_required(path)
                window = read_window(path)
                self.window.assign(window)
                self.recent_elbos.clear()
                self.recent_elbos.extend(float(e) for e in window if np.isfinite(e))
                self.saved_step = int(self.step.numpy())
                self.restored_from = path
                return self.saved_step
            except Exception as e:  # noqa: BLE001  (truncated files fail in many ways)
                say(f'checkpoint {path} is unreadable ({type(e).__name__}); '
                    'trying the one before')
        if found:
            raise CheckpointError(f'no readable checkpoint in {self.folder.checkpoint_dir}; '
                                  'move the folder away to start afresh')
        return int(self.step.numpy())

    def _restore_required(self, path):
        """Reads the model, Adam and the training seconds from ``path``. Checkpoints of the
        older layout kept Adam under the model (``model/optimizer``, with the same
        iterations) and are read through that layout."""
        target = self.required
        if tf.train.load_checkpoint(path).has_tensor(LEGACY_ADAM_KEY):
            parts = {name: getattr(self.model, name)
                     for name in ('inference', 'object_spn', 'background_spn')
                     if getattr(self.model, name) is not None}
            legacy = tf.train.Checkpoint(**parts, optimizer=self.optimizer)
            target = tf.train.Checkpoint(model=legacy, train_seconds=self.train_seconds)
        # read, not restore: restore would add a save counter, which checkpoints written
        # whole (RunFolder.write_checkpoint) do not hold. expect_partial: the older layout's
        # own step variable (equal to Adam's) is not read.
        target.read(path).assert_existing_objects_matched().expect_partial()

    def newest(self):
        """The newest checkpoint file prefix of the run folder, or None."""
        found = self.folder.checkpoints()
        return found[-1] if found else None

    def save(self):
        """Writes a checkpoint numbered by the step (whole or not at all, keeping the newest
        three), unless this step's was just written or read."""
        step = int(self.step.numpy())
        if step == self.saved_step:
            return
        window = np.full(TRAIN_ELBO_WINDOW, np.nan, np.float64)
        if self.recent_elbos:
            window[-len(self.recent_elbos):] = list(self.recent_elbos)
        self.window.assign(window)
        self.writes_to.write_checkpoint(self.checkpoint, step, keep=3)
        self.saved_step = step
