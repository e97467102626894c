"""From the run spec to what a run needs before any model is built: the model kind and its
config, the run folder (checked writable, its settings compared and recorded) and the data.
Every expected problem is a UsageError, whose one line run.py prints."""

import contextlib
import glob
import os
import shutil
import tempfile

from datasets import SplitCounts, digit_pool, load_dataset
from datasets.core import NPZ_PREFIX
from datasets.core import scene_counts as core_scene_counts
from datasets.scenes import CANVAS
from shared.model_kinds import KINDS
from shared.run_folder import RunFolder, RunFolderError, flat_settings
from shared.version import VERSION


class UsageError(Exception):
    """A problem with the command line or the run directory; one line says what to do."""


def config_from_spec(spec, scene_shape, stored=None, train_scenes=None):
    """The data set's paper preset for ``--model`` (an .npz: the paper's defaults) with the
    spec's overrides applied to it, for scenes of ``scene_shape`` (H, W, C) (and the fields
    the kind sets from the run: its ``run_fields`` of the seed and ``train_scenes``); with
    ``stored`` (the settings of the run folder being resumed) the unset flags of the kind's
    ``inherited`` fields keep the run's own values, so an older folder resumes as it was.
    Without ``stored``, ``--max_objects=K`` makes ``steps`` K + 1 unless --steps is set."""
    kind = KINDS[spec.model]
    height, width, channels = scene_shape
    overrides = {'scene_height': height, 'scene_width': width, 'channels': channels,
                 **kind.run_fields(spec.seed, train_scenes)}
    if stored is not None:
        recorded = flat_settings(stored)
        overrides.update({k: recorded[k] for k in kind.inherited if k in recorded})
    elif spec.max_objects and 'steps' not in spec.overrides:
        # A new run on scenes of up to K objects finds up to K + 1 (the paper: 2 and 3), so
        # that a full scene's count is not the last one the model can say (issue 53).
        overrides['steps'] = spec.max_objects + 1
    for name, value in spec.overrides.items():
        other = None if name in kind.own_flags else next(
            (m for m, k in KINDS.items() if m != spec.model and name in k.own_flags), None)
        if other:
            raise UsageError(f'--{name} is a setting of --model={other}, not of '
                             f'--model={spec.model}')
        if name.endswith('var_range'):
            try:
                value = tuple(float(v) for v in value)
            except ValueError:
                raise UsageError(f'--{name} takes two numbers, min,max; got {value}') from None
            if len(value) != 2:
                raise UsageError(f'--{name} takes two numbers, min,max; got {value}')
        overrides[name] = value
    try:
        return kind.presets.get(spec.dataset, kind.npz_default).replace(**overrides).validate()
    except ValueError as e:
        raise UsageError(str(e)) from None


def dataset_label(spec):
    """The data set's name in run folders: ``npz:path/to/scenes.npz`` -> ``npz_scenes``."""
    if spec.dataset.startswith(NPZ_PREFIX):
        return 'npz_' + os.path.splitext(os.path.basename(spec.dataset[len(NPZ_PREFIX):]))[0]
    return spec.dataset


def default_run_dir(spec, config):
    """runs/NAME_seedSEED, NAME as the model kind names runs of the data set."""
    name = KINDS[spec.model].run_name(dataset_label(spec), config)
    return os.path.join('runs', f'{name}_seed{spec.seed}')


def run_settings(spec, config):
    """Everything that shapes what a run learns, as recorded in its settings.json."""
    return {'version': VERSION, 'model': spec.model,
            'config': {k: list(v) if isinstance(v, tuple) else v
                       for k, v in vars(config).items()},
            'seed': spec.seed, 'data_seed': spec.data_seed, 'dataset': spec.dataset,
            'max_objects': spec.max_objects, 'steps_per_epoch': spec.steps_per_epoch,
            'scenes': scene_counts(spec),
            **{k: v and list(v) for k, v in zip(('train_counts', 'heldout_counts'),
                                                split_counts(spec) or (None, None),
                                                strict=True)},
            'mnist_digits': digit_pool(spec.dataset, spec.data_dir, spec.mnist_dir)}


def scene_counts(spec):
    """--scenes as (train, test), or None for the data set's own."""
    if spec.scenes is None:
        return None
    try:
        return [int(n) for n in spec.scenes]
    except ValueError:
        raise UsageError('--scenes takes two numbers, train,test; got '
                         + ','.join(spec.scenes)) from None


def split_counts(spec):
    """--train_counts and --heldout_counts as SplitCounts, or None for every count in both
    splits."""
    if spec.train_counts is None:
        if spec.heldout_counts is not None:
            raise UsageError('--heldout_counts needs --train_counts beside it (the counts the '
                             'training scenes hold)')
        return None
    if spec.dataset.startswith(NPZ_PREFIX):
        raise UsageError('--train_counts and --heldout_counts are for the built-in data sets; '
                         'an .npz file brings its own scenes')
    try:
        return SplitCounts(*(tuple(int(n) for n in counts or ())
                             for counts in (spec.train_counts, spec.heldout_counts)))
    except ValueError:
        raise UsageError('--train_counts and --heldout_counts take object counts, e.g. 0,1,2 '
                         'and 3') from None


# Settings of the data alone: a trained model may be evaluated on other scenes of its shape
# (--mode=eval --max_objects=3 on a model trained with 0-2 objects, or on scenes composed
# from another set of digits).
DATA_ONLY = ('max_objects', 'mnist_digits')


def stored_settings(run_dir):
    """The settings of the run a folder holds (settings.json, or a checkpoint's copy), or
    None where no checkpoint is (a run that failed before its first save has its
    settings replaced)."""
    folder = RunFolder(run_dir)
    try:
        return folder.read_settings() if folder.holds_run() else None
    except RunFolderError as e:
        raise UsageError(str(e)) from None


def prepare_run_dir(spec, run_dir, config, record=True):
    """Creates the run directory and records the settings (if ``record``).

    A folder that holds a checkpoint belongs to its settings (settings.json, or the copy in
    its checkpoints): other settings are refused, naming the first that differs.
    """
    check_writable(run_dir, 'run_dir')
    folder = RunFolder(run_dir)
    settings = run_settings(spec, config)
    try:
        folder.check_settings(settings, ignore=() if record else DATA_ONLY,
                              first=tuple(spec.overrides))
    except RunFolderError as e:
        raise UsageError(str(e)) from None
    if record:
        folder.record_settings(settings, spec.flags_text)
    return settings


def check_writable(folder, flag, keep=True):
    """Fails now, not after training, if ``folder`` cannot be created and written; a folder
    made only for the check goes again unless ``keep`` (an export folder appears when the
    export is written, not as an empty one a failed start leaves)."""
    try:
        made = not os.path.isdir(folder)
        os.makedirs(folder, exist_ok=True)
        # A probe of this process's own: the workers of a multi-worker run check the same
        # folder at the same moment, and one's probe must not be another's to remove.
        handle, probe = tempfile.mkstemp(prefix='.writable_', dir=folder)
        os.close(handle)
        os.remove(probe)
        if made and not keep:
            with contextlib.suppress(OSError):  # another worker's probe may be there now
                os.rmdir(folder)
    except OSError as e:
        raise UsageError(f'cannot write to --{flag}={folder} ({e.strerror}); '
                         'pass a writable folder') from None


def builtin_scene_shape(spec):
    """(H, W, C) of the built-in data set's scenes that the spec asks for."""
    size = spec.scene_size or CANVAS
    return size, size, 3 if spec.dataset == 'sprites_rgb' else 1


def run_folders(spec):
    """The run and export folders, checked writable before any data is built."""
    # An .npz brings its scene shape with it; the config is made again once it is read.
    config = config_from_spec(spec, builtin_scene_shape(spec))
    run_dir = spec.run_dir or default_run_dir(spec, config)
    check_writable(run_dir, 'run_dir')
    export_dir = spec.export_dir or os.path.join(run_dir, 'saved_model')
    if spec.mode in ('train', 'export'):
        check_writable(export_dir, 'export_dir', keep=False)
    return run_dir, export_dir


def clear_debris(run_dir):
    """What killed starts left in the run folder (this process holds its lock, so nothing
    there is another's): half-made exports beside the SavedModel."""
    for leftover in glob.glob(os.path.join(run_dir, '.export_*')):
        shutil.rmtree(leftover, ignore_errors=True)


def refuse_early(spec, run_dir):
    """Compares the settings with the run folder's before any data set is built (the full
    comparison follows once it is): a refused command costs no building. Built-in data
    sets only (an .npz brings its shape with it)."""
    stored = stored_settings(run_dir)
    if stored is None or spec.dataset.startswith(NPZ_PREFIX):
        return
    shape = builtin_scene_shape(spec)
    counts = scene_counts(spec)
    config = config_from_spec(spec, shape, stored, train_scenes=(
        counts or core_scene_counts(spec.dataset))[0])
    prepare_run_dir(spec, run_dir, config, record=False)


def load_data(spec, run_dir):
    """Training and test scenes, and the config for their shape (and the run held in
    ``run_dir``, whose unset choices it keeps)."""
    train, test = load_dataset(spec.dataset, data_dir=spec.data_dir, mnist_dir=spec.mnist_dir,
                               seed=spec.data_seed, download=spec.download,
                               max_objects=spec.max_objects, scene_size=spec.scene_size,
                               sizes=scene_counts(spec), split_counts=split_counts(spec))
    config = config_from_spec(spec, train.images.shape[1:], stored_settings(run_dir),
                              train_scenes=len(train))
    if config.batch_size > len(train):
        raise UsageError(f'--batch_size={config.batch_size} exceeds the {len(train)} training '
                         'scenes')
    return train, test.subset(spec.test_scenes) if spec.test_scenes else test, config
