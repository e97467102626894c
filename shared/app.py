"""What run.py does: read the flags once into a run spec, then train, evaluate, export or
sample as its mode says (the stages: shared.run_setup, then shared.run_modes)."""

import contextlib
import os
import sys

from absl import logging

from datasets import DatasetError
from shared.cluster import ClusterError
from shared.flags import read_run_spec
from shared.interrupts import stop_like_ctrl_c
from shared.model_card import card_text, read_card
from shared.run_folder import RunFolder, RunFolderError, flat_settings
from shared.run_modes import (
    build_trainer,
    fit,
    report,
    sample,
    start_strategy,
    train_worker,
    worker_task,
)
from shared.run_setup import (
    UsageError,
    builtin_scene_shape,
    clear_debris,
    config_from_spec,
    default_run_dir,
    load_data,
    prepare_run_dir,
    refuse_early,
    run_folders,
    stored_settings,
)
from shared.runtime import configure
from shared.training_state import CheckpointError
from shared.version import VERSION


def run(spec):
    """Configures from the run spec, then trains, evaluates, exports or samples, holding the
    run folder's lock (a multi-worker run: its chief, the one that writes there); or serves
    the run's SavedModel (which reads the folder only, so takes no lock)."""
    configure(spec.threads, spec.deterministic)
    if spec.mode == 'serve':
        serve(spec)
        return
    run_dir, export_dir = run_folders(spec)
    task = worker_task(spec)
    chief = task is None or task.is_chief
    try:
        lock = RunFolder(run_dir).lock() if chief else contextlib.nullcontext()
        with lock:
            try:
                run_locked(spec, run_dir, export_dir, task, chief)
            except BaseException:
                if chief and spec.mode != 'train':
                    drop_if_only_lock(run_dir)
                raise
    except RunFolderError as e:
        raise UsageError(str(e)) from None


def run_locked(spec, run_dir, export_dir, task, chief):
    """``run``'s work, once the run folder is this process's."""
    if chief:
        clear_debris(run_dir)
    refuse_early(spec, run_dir)
    train, test, config = load_data(spec, run_dir)
    settings = prepare_run_dir(spec, run_dir, config, record=spec.mode == 'train' and chief)
    waiting, strategy = start_strategy(spec, task, config)
    trainer = build_trainer(spec, config, train, test, run_dir, strategy, chief, settings)
    if task:
        train_worker(trainer, config, waiting, export_dir, chief)
    elif spec.mode == 'train':
        report(trainer, fit(trainer, config.epochs), export_dir)
    else:
        if not trainer.restore():
            raise UsageError(f'no checkpoint in {run_dir}: train first (--mode=train)')
        print(f'restored step {int(trainer.step.numpy())} from {trainer.state.restored_from}',
              flush=True)
        # the run's own length (its settings were checked above), whatever --epochs says now
        trainer.end_with_average(flat_settings(stored_settings(run_dir))['epochs'])
        if spec.mode == 'sample':
            sample(spec, trainer, run_dir)
        else:
            card = read_card(export_dir) if spec.mode == 'eval' else None
            if card:
                print(f'the SavedModel in {export_dir}:\n{card_text(card)}', flush=True)
                step = int(trainer.step.numpy())
                if card.get('step') != step:
                    print(f'(the SavedModel is of step {card.get("step")}; the evaluation '
                          f'below is of the restored checkpoint, step {step})', flush=True)
            report(trainer, trainer.evaluate_now(),
                   export_dir if spec.mode == 'export' else None)


def drop_if_only_lock(run_dir):
    """Removes a run folder that holds nothing but this process's lock: what an eval,
    export or sample that found no run would otherwise leave behind."""
    try:
        if os.listdir(run_dir) == ['.lock']:
            os.remove(os.path.join(run_dir, '.lock'))
            os.rmdir(run_dir)
    except OSError:
        pass   # another process wrote there meanwhile: its folder stays


def spec_run_dir(spec):
    """The run folder the command line names, or the default one its settings make."""
    return spec.run_dir or default_run_dir(spec, config_from_spec(spec,
                                                                  builtin_scene_shape(spec)))


def serve(spec):
    """--mode=serve: the page of the run's SavedModel, until Ctrl-C."""
    from shared.serve.server import ServerError, make_server, serve_forever
    run_dir = spec_run_dir(spec)
    export_dir = spec.export_dir or os.path.join(run_dir, 'saved_model')
    try:
        server = make_server(run_dir, export_dir, spec.host, spec.port, spec.data_dir,
                             spec.mnist_dir, spec.download)
    except ServerError as e:
        raise UsageError(str(e)) from None
    serve_forever(server, run_dir)


def main(argv):
    """run.py's entry point: every expected failure ends in one line."""
    logging.set_verbosity(logging.WARNING)
    stop_like_ctrl_c()
    if len(argv) > 1:
        sys.exit(f'error: unexpected arguments {" ".join(argv[1:])}; flags look like --name=value')
    spec = read_run_spec()
    if spec.version:
        print(f'supair-tf {VERSION}')
        return
    try:
        run(spec)
    except (UsageError, DatasetError, CheckpointError, ClusterError) as e:
        sys.exit(f'error: {e}')
    except KeyboardInterrupt:
        sys.exit(stopped_message(spec))


def stopped_message(spec):
    """What a stopped run keeps, in one line: its newest checkpoint, or nothing yet."""
    try:
        kept = RunFolder(spec_run_dir(spec)).checkpoints()
    except Exception:  # noqa: BLE001 (a stop is being reported: say what is certain)
        kept = None
    if kept is None:
        return 'stopped; run the same command to resume from the last checkpoint, if any'
    if not kept:
        return ('stopped before the first checkpoint: nothing to resume, the same command '
                'starts again')
    step = kept[-1].rsplit('-', 1)[-1]
    return f'stopped; the last checkpoint (step {step}) is kept: run the same command to resume'
