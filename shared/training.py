"""The training loop: Adam on the negative ELBO, with evaluation, logs and checkpoints.

The model (any that keeps the interface of shared.interface: SuPAIR, AIR) gives the
loss and its gradients; the trainer owns the optimisers (one Adam per parameter group of
the model), whose first one's ``iterations`` is the one step counter: it numbers the checkpoints and
the metrics rows and seeds each step's z_where noise. Resuming is exact: the optimiser
(with that counter), the train-ELBO window and the accumulated training seconds live in
the checkpoint, and each epoch's data order is a function of (seed, epoch) (or the stored
order), so a restarted run picks up the very batch it stopped at. A model that ends with
the mean of its last epochs' weights (``averaged_epochs``) has them kept in the run
folder's epoch_ends/ and takes their mean once the run is at its last step; training only
ever continues from the checkpoints' own weights.
"""

import shutil
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from shared.evaluation import MetricsRow, evaluate
from shared.interrupts import whole
from shared.run_folder import EPOCH_ENDS, RunFolder, checkpoint_step
from shared.runlog import RunLog, duration
from shared.schedule import Schedule
from shared.training_state import TrainingState


def _handle(variable):
    """The resource handle of a Keras or TensorFlow variable (under a tf.distribute update:
    of this device's copy)."""
    return (variable.value if isinstance(variable, keras.Variable) else variable).handle


class FusedAdam(keras.optimizers.Adam):
    """Keras' Adam whose per-variable update is TensorFlow's fused ApplyAdam kernel.

    The same update (Kingma & Ba 2015, Algorithm 1, bias corrections folded into the
    step size as in their section 2): ``m += (1 - b1)(g - m)``, ``v += (1 - b2)(g^2 - v)``,
    ``w -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)``, in one pass over each
    variable instead of a dozen elementwise ops; same slots, so checkpoints of either
    read into the other. Sparse gradients and AMSGrad take Keras' own path.
    """

    def update_step(self, gradient, variable, learning_rate):
        """One fused Adam update of ``variable`` (a dense gradient), else Keras' update."""
        if isinstance(gradient, tf.IndexedSlices) or self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        index = self._get_variable_index(variable)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        return tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable), m=_handle(self._momentums[index]),
            v=_handle(self._velocities[index]), beta1_power=beta_1 ** step,
            beta2_power=beta_2 ** step, lr=tf.cast(learning_rate, dtype), beta1=beta_1,
            beta2=beta_2, epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype))


def make_optimizers(model, epsilon=1e-8):
    """One Adam per parameter group of the model, at the group's learning rate, built for
    its variables (under a tf.distribute strategy, call this in its scope). Epsilon 1e-8 is
    the default of TF1's AdamOptimizer and of PyTorch's Adam, which the reference codes
    trained with."""
    optimizers = []
    for _, rate, variables in model.parameter_groups():
        optimizer = FusedAdam(rate, epsilon=epsilon)
        optimizer.build(variables)
        optimizers.append(optimizer)
    return optimizers


def make_optimizer(model, epsilon=1e-8):
    """The Adam of a model with one parameter group (SuPAIR)."""
    (optimizer,) = make_optimizers(model, epsilon)
    return optimizer


def apply_gradients(model, optimizers, grads):
    """Each group's share of ``grads`` (in ``model_variables`` order) to its optimiser."""
    start = 0
    for optimizer, (_, _, variables) in zip(optimizers, model.parameter_groups(), strict=True):
        group = grads[start:start + len(variables)]
        optimizer.apply_gradients(zip(group, variables, strict=True))
        start += len(variables)


def make_train_step(model, optimizers, strategy=None):
    """``step(images) -> loss``: one Adam step (``optimizers``: one, or one per parameter
    group) on the model's loss, on one device or split evenly over the strategy's replicas
    (the all-reduced gradients then equal one device's on the whole batch). The step's
    noise is drawn for step ``iterations`` of the first optimiser, so a resumed run draws
    what the interrupted one would have."""
    optimizers = optimizers if isinstance(optimizers, (list, tuple)) else [optimizers]

    def replica_step(images):
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync
        noise = model.step_noise(tf.shape(images)[0], optimizers[0].iterations,
                                 context.replica_id_in_sync_group, replicas)
        loss, grads = model.loss_and_gradients(images, noise, replicas)
        apply_gradients(model, optimizers, grads)
        return loss

    spec = tf.TensorSpec([None, *model.config.scene_shape], tf.float32)
    if strategy is None or strategy.num_replicas_in_sync == 1:
        return tf.function(replica_step, input_signature=[spec])
    replicas = strategy.num_replicas_in_sync

    @tf.function
    def distributed(per_replica_images):
        losses = strategy.run(replica_step, args=(per_replica_images,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    def step(images):
        per = len(images) // replicas
        if per * replicas != len(images):
            raise ValueError(f'a batch of {len(images)} does not split over {replicas} replicas')

        def shard(ctx):
            first = ctx.replica_id_in_sync_group * per
            return tf.constant(images[first:first + per])

        return distributed(strategy.experimental_distribute_values_from_function(shard))

    return step


def average_checkpoints(model, paths):
    """Gives ``model`` the mean of its ``model_variables`` in the checkpoints ``paths``
    (written as ``tf.train.Checkpoint(model=...)``, or a run's own checkpoints); what else
    the model holds comes from the last of them."""
    kept = []
    for path in paths:
        tf.train.Checkpoint(model=model).read(path).expect_partial()
        kept.append([v.numpy() for v in model.model_variables])
    for variable, *values in zip(model.model_variables, *kept, strict=True):
        variable.assign(np.mean(values, axis=0))


class Trainer:
    """Trains a model (shared.interface) on a SceneSet: the loop, with evaluations, logs,
    pictures and checkpoints on a Schedule.

    With several workers (shared.cluster) only the chief (``chief=True``) evaluates
    and writes the run directory; the others save their checkpoints into a temporary
    folder, removed when ``fit`` ends, and all resume from the chief's checkpoints.
    ``settings`` (the run's, as in settings.json) are copied into every checkpoint.
    """

    def __init__(self, model, train, test, run_dir, seed=0, steps_per_epoch=None, strategy=None,
                 evals_per_epoch=4, checkpoint_seconds=180, verbose=1, chief=True,
                 stop_gain=0.0, stop_epochs=5, frequent_eval_epochs=None, settings=None):
        self.model, self.train, self.test, self.chief = model, train, test, chief
        with (strategy or tf.distribute.get_strategy()).scope():
            self.optimizers = make_optimizers(model)
        self.optimizer = self.optimizers[0]  # its iterations count the steps
        self.train_step = make_train_step(model, self.optimizers, strategy)
        self.run_dir, self.seed, self.verbose = run_dir, seed, verbose
        self.batch_size = model.config.batch_size
        full = len(train) // self.batch_size
        steps_per_epoch = min(full, steps_per_epoch) if steps_per_epoch else full
        if steps_per_epoch < 1:
            raise ValueError(f'batch_size {self.batch_size} exceeds the {len(train)} '
                             'training scenes')
        self.schedule = Schedule(steps_per_epoch, evals_per_epoch, frequent_eval_epochs,
                                 stop_gain, stop_epochs)
        self.steps_per_epoch = steps_per_epoch
        self.checkpoint_seconds = checkpoint_seconds
        self.scratch = None if chief else tempfile.mkdtemp(prefix='supair_worker_checkpoints_')
        self.state = TrainingState(model, self.optimizers, RunFolder(run_dir), settings,
                                   self.scratch)
        self.step = self.state.step  # the one step counter (see the module's doc)
        self.train_seconds, self.recent_elbos = self.state.train_seconds, self.state.recent_elbos
        self.log = RunLog(run_dir, verbose, write=chief)
        self.epoch_ends = RunFolder(run_dir, EPOCH_ENDS)
        self.epoch_elbos = {}  # {epoch: test ELBO at its end}, for the stopping rule

    @property
    def eval_steps(self):
        """Steps within an epoch after which the first epochs evaluate."""
        return self.schedule.eval_steps

    def restore(self):
        """Continues from the newest readable checkpoint, if any; returns its step."""
        return self.state.restore(self.log.say)

    def save(self):
        """Writes a checkpoint numbered by the step."""
        self.state.save()

    def newest_checkpoint(self):
        """The newest checkpoint file prefix of the run directory, or None."""
        return self.state.newest()

    def batch_indices(self, epoch):
        """The epoch's data order: the stored order every epoch (config ``data_order``
        'fixed', as the authors' code trained), or a permutation that is a function of
        (seed, epoch) only ('shuffled')."""
        if self.model.config.data_order == 'fixed':
            return np.arange(len(self.train))
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.train))

    def fit(self, epochs, compiled=None):
        """Trains up to ``epochs`` epochs (resuming if the run directory has a checkpoint),
        evaluates on the schedule, and returns the final Evaluation (on the chief; other
        workers return None). ``compiled()``, if given, is called once the training step
        has run for the first time (with several workers: once all have joined)."""
        try:
            return self._fit(epochs, compiled)
        finally:
            if self.scratch:
                shutil.rmtree(self.scratch, ignore_errors=True)

    def _fit(self, epochs, compiled):
        began, start = time.time(), self.restore()
        trained_before = float(self.train_seconds.numpy())
        self._session_start = (start, trained_before)  # for the run's time estimate
        total = epochs * self.steps_per_epoch
        if start and start % self.steps_per_epoch == 0:
            self.keep_epoch_end()  # a kill may have come between the checkpoint and this
        self.end_with_average(epochs)
        self._start_logs(start, total)
        if start < total:
            self.log.say(f'compiled the training step in {self.compile_step():.1f} s '
                         '(not counted as training time)')
        if compiled:
            compiled()
        result = None
        try:
            while int(self.step.numpy()) < total and not self.converged():
                epoch = int(self.step.numpy()) // self.steps_per_epoch
                self._run_epoch(epoch, epochs)
                self.save()
                self.keep_epoch_end()
                self.end_with_average(epochs)
                result = self.log_evaluation(epoch + 1, pictures=True)
        except KeyboardInterrupt:
            self.save()
            self.log.say(f'interrupted: saved step {int(self.step.numpy())}; '
                         'run again to resume')
            raise
        if self.chief:
            result = result or self.evaluate_now()  # the last epoch's, unless none was left
        wall = time.time() - began
        trained = float(self.train_seconds.numpy()) - trained_before
        self.log.say(f'this session: {wall:.0f} s wall, of which {trained:.0f} s training '
                     f'steps and {wall - trained:.0f} s '
                     f'({100 * (wall - trained) / max(wall, 1e-9):.0f}%) compilation, '
                     'evaluation, pictures and checkpoints')
        return result

    def keep_epoch_end(self):
        """Keeps the weights of this step, an epoch's end, in epoch_ends/ (the newest K of
        them; one of this step from an earlier path is replaced) if the model ends with the
        mean of its last K epochs; only the chief."""
        k = self.model.averaged_epochs()
        if k and self.chief:
            self.epoch_ends.write_checkpoint(tf.train.Checkpoint(model=self.model),
                                             int(self.step.numpy()), keep=k)

    def end_with_average(self, epochs):
        """At the last step of ``epochs`` epochs, gives a model that ends with the mean of its
        last K epochs (``averaged_epochs``) that mean: of its weights at those epoch ends, as
        many of them as epoch_ends/ holds (a run of fewer epochs, or one begun before it
        averaged, has fewer). Stochastic weight averaging (Izmailov et al., UAI 2018) over
        epoch ends; docs/procedure_study.md. Returns whether it took the mean. The
        checkpoints keep the last weights: a run given more epochs trains on from them."""
        k, end = self.model.averaged_epochs(), int(self.step.numpy())
        if not (k and self.chief and end and end == epochs * self.steps_per_epoch):
            return False
        wanted = {end - i * self.steps_per_epoch for i in range(k)}
        paths = [p for p in self.epoch_ends.checkpoints() if checkpoint_step(p) in wanted]
        if not paths:
            return False
        average_checkpoints(self.model, paths)
        epochs_kept = [checkpoint_step(p) // self.steps_per_epoch for p in paths]
        self.log.say(f'the model of step {end}: the mean of its weights at the ends of epochs '
                     f'{", ".join(map(str, epochs_kept))}')
        return True

    def _start_logs(self, start, total):
        """Cuts the logs back to ``start`` (rows and events above it, from 0 too, would be
        logged twice), takes the epoch-end ELBOs kept, and evaluates ``start`` if it is an
        evaluation step that a kill left unlogged."""
        logged = self.log.keep_until(start)
        self.epoch_elbos = self.log.epoch_end_elbos(self.steps_per_epoch)
        if not start:
            return
        self.log.say(f'resuming from step {start} of {total}')
        if self.chief and start not in logged and self.schedule.evaluates(start):
            self.log.say(f'evaluating step {start}, saved but not yet logged')
            self.log_evaluation(start / self.steps_per_epoch,
                                pictures=start % self.steps_per_epoch == 0)

    def converged(self):
        """True once the schedule's stopping rule holds at this step (said in one line)."""
        message = self.schedule.convergence(int(self.step.numpy()), self.epoch_elbos)
        if message:
            self.log.say(message)
        return message is not None

    def compile_step(self):
        """Traces and compiles the training step on a real batch without learning from it
        (the variables and the optimiser's state are put back); returns the seconds."""
        began = time.time()
        variables = self.model.model_variables + [v for optimizer in self.optimizers
                                                  for v in optimizer.variables]
        saved = [v.numpy() for v in variables]
        self.train_step(self.train.images[:self.batch_size])
        for v, value in zip(variables, saved, strict=True):
            v.assign(value)
        return time.time() - began

    def _run_epoch(self, epoch, epochs=None):
        order = self.batch_indices(epoch)
        first = int(self.step.numpy()) - epoch * self.steps_per_epoch
        after = None if epochs is None else (epochs - epoch - 1) * self.steps_per_epoch
        self.log.say(f'epoch {epoch + 1}' + self._run_estimate(epoch, epochs, first))
        progress = self.log.epoch_progress(self.steps_per_epoch, first, after)
        last_save = time.time()
        if first == 0:
            self.recent_elbos.clear()
        for k in range(first, self.steps_per_epoch):
            with whole():  # a stop waits until this step is recorded
                self._step(epoch, k, order, progress)
            if time.time() - last_save > self.checkpoint_seconds:
                self.save()
                last_save = time.time()

    def _step(self, epoch, k, order, progress):
        """Step ``k`` of the epoch and everything recorded for it."""
        batch = self.train.images[np.sort(order[k * self.batch_size:(k + 1) * self.batch_size])]
        began = time.time()
        elbo = -float(self.train_step(batch))  # waits for the step: honest timing
        self.train_seconds.assign_add(time.time() - began)
        if not np.isfinite(elbo):
            raise FloatingPointError(f'the ELBO became {elbo} at step {int(self.step.numpy())}')
        self.recent_elbos.append(elbo)
        progress.update(k + 1, elbo)
        self.log.train_elbo(int(self.step.numpy()), elbo)
        if self.schedule.evaluates_within(epoch, k + 1):
            progress.interrupt()
            self.log_evaluation(epoch + (k + 1) / self.steps_per_epoch)

    def _run_estimate(self, epoch, epochs, first):
        """`` of E, about T of training left`` at this session's pace so far (or ``''``)."""
        if epochs is None:
            return ''
        text = f' of {epochs}'
        done = int(self.step.numpy()) - self._session_start[0]
        if done > 0:
            per_step = (float(self.train_seconds.numpy()) - self._session_start[1]) / done
            left = (epochs - epoch) * self.steps_per_epoch - first
            text += f', about {duration(per_step * left)} of training left'
        return text

    def evaluate_now(self):
        """Count accuracy, IoU, ELBO and confusion matrix on the test scenes."""
        return evaluate(self.model, self.test)

    def log_evaluation(self, epoch, pictures=False):
        """Evaluates on the test scenes and hands the MetricsRow to the run log (train_elbo:
        the mean of the last 20 batches); with ``pictures``, draws them too. Only the chief
        evaluates: other workers return None."""
        if not self.chief:
            return None
        result = self.evaluate_now()
        elbos = list(self.recent_elbos) or [float('nan')]
        row = MetricsRow(round(float(epoch), 4), int(self.step.numpy()),
                         round(float(self.train_seconds.numpy()), 2), result.test_count_acc,
                         result.test_iou, result.elbo, float(np.mean(elbos)),
                         result.heldout_count_acc)
        if pictures:  # before the row: a step whose row is logged is not drawn again
            self.save_pictures(row.step)
        self.log.evaluation(row)
        if row.step % self.steps_per_epoch == 0:
            self.epoch_elbos[row.step // self.steps_per_epoch] = row.elbo
        return result

    def save_pictures(self, step):
        """The model's pictures (boxes and reconstructions of the first 16 test scenes, 16
        scenes sampled from the model), as PNGs and as TensorBoard images of ``step``."""
        pictures = self.model.pictures(self.test.images[:16], seed=self.seed)
        for name, image in pictures.items():
            self.state.folder.save_picture(f'{name}_step{step:07d}', image)
        self.log.pictures(step, pictures)
