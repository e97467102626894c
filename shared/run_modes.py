"""What a run does once its folder and data are ready: the strategy (one process, mirrored
replicas, or several workers), the model and its trainer, then training, evaluation, export
or samples, each result printed as run.py's users read it."""

import json
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from shared.cluster import Watchdog, multi_worker_strategy, read_tf_config
from shared.export import export_saved_model
from shared.model_card import model_card, write_card
from shared.model_kinds import KINDS
from shared.run_folder import RunFolderError, replace_export
from shared.run_setup import UsageError
from shared.training import Trainer


def worker_task(spec):
    """This process's task of a multi-worker run (TF_CONFIG), or None."""
    if spec.strategy != 'multi_worker':
        return None
    if spec.mode != 'train':
        raise UsageError('--strategy=multi_worker is for training; evaluate or export '
                         'with the default strategy')
    if spec.stop_gain:
        raise UsageError('--stop_gain reads the chief\'s evaluations; with several workers '
                         'train a fixed number of --epochs')
    return read_tf_config(os.environ.get('TF_CONFIG', ''))


def make_strategy(spec):
    """The tf.distribute strategy that --strategy asks for (multi_worker: see run)."""
    if spec.strategy == 'default':
        return tf.distribute.get_strategy()
    if spec.cpu_replicas and not tf.config.list_physical_devices('GPU'):
        cpu = tf.config.list_physical_devices('CPU')[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * spec.cpu_replicas)
        return tf.distribute.MirroredStrategy(
            [d.name for d in tf.config.list_logical_devices('CPU')])
    return tf.distribute.MirroredStrategy()


def start_strategy(spec, task, config):
    """The tf.distribute strategy, and (several workers) the watchdog that waits for all."""
    waiting = None
    if task:  # from here until the first step, every worker waits for all the others
        waiting = Watchdog(spec.worker_timeout, f'{task}: not every worker of TF_CONFIG '
                           f'joined within {spec.worker_timeout} s (--worker_timeout); start '
                           'all of them with the same command').start()
        strategy = multi_worker_strategy(spec.worker_timeout)
        print(f'{task} of {task.tasks} workers' + (' (chief: writes the run directory)'
                                                    if task.is_chief else ''), flush=True)
    else:
        strategy = make_strategy(spec)
    replicas = strategy.num_replicas_in_sync
    if config.batch_size % replicas:
        raise UsageError(f'--batch_size={config.batch_size} does not split over {replicas} '
                         'replicas; pass a multiple')
    return waiting, strategy


def build_trainer(spec, config, train, test, run_dir, strategy, chief, settings):
    """The model (its parameter counts printed, as Table 1) and its trainer."""
    with strategy.scope():
        model = KINDS[spec.model].build(config, seed=spec.seed, jit_compile=spec.jit_compile)
    if chief:
        print('parameters: ' + ', '.join(f'{k} {v:,}' for k, v in
                                         model.parameter_counts().items()), flush=True)
    return Trainer(model, train, test, run_dir, seed=spec.seed,
                   steps_per_epoch=spec.steps_per_epoch, strategy=strategy,
                   evals_per_epoch=spec.evals_per_epoch,
                   frequent_eval_epochs=spec.frequent_eval_epochs,
                   stop_gain=spec.stop_gain, stop_epochs=spec.stop_epochs,
                   checkpoint_seconds=spec.checkpoint_seconds, verbose=int(chief),
                   chief=chief, settings=settings)


def fit(trainer, epochs, compiled=None):
    """trainer.fit, with a non-finite ELBO as one line naming the newest checkpoint."""
    try:
        return trainer.fit(epochs, compiled=compiled)
    except FloatingPointError as e:
        newest = trainer.newest_checkpoint() or 'none yet'
        raise UsageError(f'{e}; newest checkpoint: {newest}') from None


def train_worker(trainer, config, waiting, export_dir, chief):
    """One worker's part of a multi-worker run: every worker trains and exports (as
    TensorFlow asks), only the chief into ``export_dir`` and with printed results."""
    try:
        result = fit(trainer, config.epochs, compiled=waiting.stop)
    except (tf.errors.DeadlineExceededError, tf.errors.UnavailableError,
            tf.errors.CancelledError, tf.errors.InternalError) as e:
        step = int(trainer.step.numpy())
        raise UsageError(f'lost contact with another worker at step {step} '
                         f'({type(e).__name__}); start all workers again to resume from '
                         f'{trainer.newest_checkpoint() or "the start"}') from None
    if chief:
        report(trainer, result, export_dir)
    else:
        scratch = tempfile.mkdtemp(prefix='supair_worker_export_')
        try:
            export_saved_model(trainer.model, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        print('done: the chief holds the results', flush=True)


def report(trainer, result, export_dir=None):
    """Prints the evaluation of the trainer's step; exports it into ``export_dir``, if given,
    with its model card."""
    step = int(trainer.step.numpy())
    print_result(result, step)
    if export_dir:
        settings = json.loads(trainer.state.settings.numpy().decode())
        export(trainer.model, export_dir, step,
               model_card(trainer.model, settings, step, result))


def print_result(result, step):
    """The evaluation of ``step`` and its confusion matrix (or, unlabelled, the counts
    found)."""
    confusion = result.confusion
    found = f'found 0-{confusion.shape[1] - 1}'
    if np.isnan(result.test_count_acc):
        print(f'step {step}: test ELBO {result.elbo:.1f} (no count labels); scenes by '
              f'count {found}:\n{confusion[0]}')
        return
    heldout = ('' if result.heldout_count_acc is None else
               f'held-out counts {result.heldout_count_acc:.4f}, ')
    print(f'step {step}: test count accuracy {result.test_count_acc:.4f}, {heldout}'
          f'IoU {result.test_iou:.3f}, ELBO {result.elbo:.1f}; counts (rows: true '
          f'0-{confusion.shape[0] - 1}, columns: {found}):\n{confusion}')
    for name, value in result.extra.items():
        print(f'step {step}: {name} {value:.4f}')


def export(model, export_dir, step, card):
    """Replaces the SavedModel in ``export_dir`` with this step's and its model ``card``,
    unless it holds a newer step's (then one line, and the newer one is kept)."""
    def write(folder):
        export_saved_model(model, folder)
        write_card(folder, card)

    try:
        replace_export(export_dir, step, write)
    except RunFolderError as e:
        raise UsageError(str(e)) from None
    print(f'SavedModel of step {step} written to {export_dir}')


def sample(spec, trainer, run_dir):
    """32 scenes drawn from the model (SuPAIR: and the same with leaf means), as PNGs."""
    folder = os.path.join(run_dir, 'pictures')
    os.makedirs(folder, exist_ok=True)
    pictures = trainer.model.sample_pictures(32, seed=spec.seed)
    for name, image in pictures.items():
        image.save(os.path.join(folder, f'{name}.png'))
    print(f'32 scenes sampled from step {int(trainer.step.numpy())}: ' + ', '.join(
        f'{folder}/{name}.png' for name in pictures))
