"""A run directory as one object that keeps its own truth.

    RUN_DIR/settings.json        what shapes what the run learns (a copy in every checkpoint)
    RUN_DIR/checkpoints/ckpt-N   model, Adam (its iterations = N), training seconds, settings;
                                 written whole or not at all (see write_checkpoint)
    RUN_DIR/metrics.csv          one row per evaluated step, at most once
    RUN_DIR/tensorboard/         the same steps as TensorBoard scalars, at most once
    RUN_DIR/pictures/*.png       boxes, reconstructions and samples, each written whole
    EXPORT_DIR/assets.extra/supair.json   the step a SavedModel was made from

Every start checks them against each other: checkpoints are found from their files (the
``checkpoint`` state file may be missing or stale), settings from settings.json or else
from the newest checkpoint's copy, logs are cut back to the step that training resumes
from, and an export never replaces one made from a newer step.
"""

import contextlib
import csv
import fcntl
import glob
import json
import os
import re
import shutil
import tempfile

import tensorflow as tf

from shared.evaluation import MetricsRow, metrics_fields
from shared.model_kinds import KINDS


class RunFolderError(Exception):
    """A run directory that cannot be used as asked; the message is one line."""


# What a settings.json written before a setting existed meant by its absence.
LEGACY_SETTINGS = {'data_order': 'shuffled', 'data_seed': 42, 'max_objects': None,
                   'steps_per_epoch': None, 'scenes': None, 'model': 'supair',
                   'average_epochs': 0, 'train_counts': None, 'heldout_counts': None}
# Recorded since a later version; a settings.json without one did not say, so any value goes.
UNRECORDED_BEFORE = ('mnist_digits',)
REQUIRED_SETTINGS = ('config', 'seed', 'dataset')
SETTINGS_KEY = 'settings/.ATTRIBUTES/VARIABLE_VALUE'  # the copy inside a checkpoint
CSV_FIELDS = list(MetricsRow._fields)  # every column a metrics.csv may have
PARTIAL = '.partial'  # in checkpoints/: a checkpoint being written
# The model's weights at the ends of the last epochs, for a model that ends with their mean
# (shared.interface.Model.averaged_epochs); checkpoints of the model alone.
EPOCH_ENDS = 'epoch_ends'


def flat_settings(settings):
    """``{'config': {...}, 'seed': ...}`` -> one level of keys, missing ones at the values
    older run folders meant by leaving them out."""
    # A config field a folder lacks meant its model's default when the folder was made.
    defaults = KINDS[settings.get('model', 'supair')].config_defaults()
    return {**defaults, **LEGACY_SETTINGS,
            **{k: v for k, v in settings.items() if k != 'config'}, **settings['config']}


def settings_conflict(stored, wanted, ignore=(), first=()):
    """The first setting (other than epochs and ``ignore``) in which two runs differ, as one
    phrase, or None. The model and the data set are named before all others, then the
    settings in ``first`` (the flags the user gave), then the presets they imply."""
    old, new = flat_settings(stored), flat_settings(wanted)
    unsaid = [k for k in UNRECORDED_BEFORE if k not in stored]
    order = ('model', 'dataset', *first)
    ranked = sorted(new.items(), key=lambda item: order.index(item[0]) if item[0] in order
                    else len(order))
    for key, value in ranked:
        if key not in ('epochs', 'version', *ignore, *unsaid) and old.get(key) != value:
            return f'{key} {old.get(key)!r} there, {value!r} now'
    return None


@contextlib.contextmanager
def writing(path, leftover=None):
    """A write into the run folder that fails (a full disk, a folder gone read-only) as one
    line naming ``path``, leaving no ``leftover`` (a partial file or folder) behind; what
    was written before stays whole."""
    try:
        yield
    except (OSError, tf.errors.OpError) as e:
        if leftover and os.path.isdir(leftover):
            shutil.rmtree(leftover, ignore_errors=True)
        elif leftover and os.path.exists(leftover):
            os.remove(leftover)
        if isinstance(e, tf.errors.ResourceExhaustedError):
            why = 'no space left on device'
        else:
            why = getattr(e, 'strerror', None) or type(e).__name__
        raise RunFolderError(f'cannot write {path} ({why}); make room (or make it writable) '
                             'and run the same command to resume from the last checkpoint'
                             ) from None


def write_whole(path, text):
    """Writes ``path`` whole or not at all (a kill, or another worker reading meanwhile,
    never sees half a file)."""
    with writing(path, leftover=path + '.tmp'), open(path + '.tmp', 'w') as f:
        f.write(text)
    os.replace(path + '.tmp', path)


class RunFolder:
    """One run directory: its settings, checkpoints, metrics and TensorBoard logs."""

    def __init__(self, path, checkpoints='checkpoints'):
        """``checkpoints``: the subfolder the checkpoint methods read and write (the run's
        own, or EPOCH_ENDS)."""
        self.path = path
        self.settings_path = os.path.join(path, 'settings.json')
        self.checkpoint_dir = os.path.join(path, checkpoints)
        self.metrics_path = os.path.join(path, 'metrics.csv')
        self.tensorboard_dir = os.path.join(path, 'tensorboard')
        self.pictures_dir = os.path.join(path, 'pictures')

    # ---- checkpoints -------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self):
        """Holds the folder's lock (``.lock``, an advisory lock with the holder's process id
        in it) for the block: a second writer stops at once with one line naming the holder.
        The operating system drops the lock when its process ends, however it ends, so a
        lock a killed run left is taken over."""
        os.makedirs(self.path, exist_ok=True)
        handle = open(os.path.join(self.path, '.lock'), 'a+')
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.seek(0)
                holder = handle.read().strip() or 'unknown'
                raise RunFolderError(f'{self.path} is in use by process {holder} (another run '
                                     'on this folder); wait for it to end, or pass another '
                                     '--run_dir') from None
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield
        finally:
            handle.close()

    def checkpoints(self):
        """Every checkpoint prefix, oldest first, found from the files themselves (a
        checkpoint is there once its index is: written last). The state file is not asked:
        a kill or a copy can leave it listing checkpoints long gone, or missing new ones."""
        found = {p[:-len('.index')] for p in glob.glob(os.path.join(self.checkpoint_dir,
                                                                     'ckpt-*.index'))}
        return sorted(found, key=checkpoint_step)

    def holds_run(self):
        """Whether any checkpoint (readable or not) is here: then it is never trained over."""
        return bool(self.checkpoints())

    def write_checkpoint(self, checkpoint, step, keep=3):
        """Writes ``checkpoint`` (a tf.train.Checkpoint) as ``ckpt-<step>``, keeping the
        newest ``keep``. TensorFlow writes a checkpoint's index file in place, so a kill
        while it writes would leave a half index that looks like a checkpoint (and, were it
        the only one, nothing to resume from). Here it is written in a side folder and
        moved in: its data first, its index last, so ``ckpt-N.index`` is there only once
        the checkpoint is whole. Older ones lose their index first, for the same reason."""
        os.makedirs(self.checkpoint_dir, exist_ok=True)
        side = os.path.join(self.checkpoint_dir, PARTIAL)
        shutil.rmtree(side, ignore_errors=True)  # what a kill left half-written
        os.makedirs(side)
        name = f'ckpt-{int(step)}'
        with writing(os.path.join(self.checkpoint_dir, name), leftover=side):
            checkpoint.write(os.path.join(side, name))
        remove_checkpoint(os.path.join(self.checkpoint_dir, name))  # a damaged one, say
        written = sorted(os.listdir(side), key=lambda f: f.endswith('.index'))
        for f in written:
            if f.startswith(name + '.'):
                os.replace(os.path.join(side, f), os.path.join(self.checkpoint_dir, f))
        shutil.rmtree(side, ignore_errors=True)
        for old in self.checkpoints()[:-keep]:
            remove_checkpoint(old)
        self.repair_checkpoint_state()

    def repair_checkpoint_state(self):
        """Rebuilds the ``checkpoint`` state file from the checkpoints on disk (and nothing
        else), so that TensorFlow's tools (tf.train.latest_checkpoint) see those and only
        those; with none, the file goes."""
        names = [os.path.basename(p) for p in self.checkpoints()]
        state = os.path.join(self.checkpoint_dir, 'checkpoint')
        if names:  # the state file's text format, paths relative to the folder
            write_whole(state, ''.join(
                [f'model_checkpoint_path: "{names[-1]}"\n'] +
                [f'all_model_checkpoint_paths: "{name}"\n' for name in names]))
        elif os.path.exists(state):
            os.remove(state)

    # ---- settings ----------------------------------------------------------------------
    def read_settings(self):
        """settings.json, or else the copy in the newest checkpoint that has one, or None
        when neither exists. A malformed settings.json is a RunFolderError naming it."""
        if os.path.exists(self.settings_path):
            try:
                with open(self.settings_path) as f:
                    settings = json.load(f)
            except (OSError, ValueError) as e:
                raise RunFolderError(f'{self.settings_path} is unreadable ({e}); restore it, or '
                                     'delete it to use the copy in the newest checkpoint') from None
            problem = settings_problem(settings)
            if problem:
                raise RunFolderError(f'{self.settings_path} is not a run\'s settings '
                                     f'({problem}); restore it, or delete it to use the copy '
                                     'in the newest checkpoint')
            copy = self._checkpoint_settings()
            conflict = copy and settings_conflict(copy, settings)
            if conflict:
                raise RunFolderError(f'{self.settings_path} and the newest checkpoint\'s copy '
                                     f'of the settings disagree ({conflict}); restore '
                                     'settings.json, or delete it to use the copy')
            return settings
        return self._checkpoint_settings()

    def _checkpoint_settings(self):
        """The settings copy of the newest checkpoint that has one, or None."""
        for path in reversed(self.checkpoints()):
            try:
                settings = json.loads(tf.train.load_checkpoint(path).get_tensor(SETTINGS_KEY))
            except Exception:  # noqa: BLE001  (damaged, or older than the copy: try the next)
                continue
            if not settings_problem(settings):
                return settings
        return None

    def check_settings(self, wanted, ignore=(), first=()):
        """Refuses settings that differ from those of the run held here (from settings.json
        or, if that is gone, a checkpoint's copy); a run whose settings are lost entirely
        is refused too, since what it did can no longer be checked."""
        if not self.holds_run():
            return
        stored = self.read_settings()
        if stored is None:
            raise RunFolderError(f'{self.path} holds checkpoints but no settings.json, and '
                                 'its checkpoints are older than the copy they now keep; '
                                 'restore settings.json or pass another --run_dir')
        conflict = settings_conflict(stored, wanted, ignore, first)
        if conflict:
            raise RunFolderError(f'{self.path} holds a run with other settings ({conflict}); '
                                 'pass another --run_dir or the same flags')

    def record_settings(self, settings, flags_text=None):
        """Writes settings.json (and the flags as given, for people)."""
        write_whole(self.settings_path, json.dumps(settings, indent=1))
        if flags_text is not None:
            write_whole(os.path.join(self.path, 'flags.txt'), flags_text)

    def save_picture(self, name, image):
        """Writes a PIL image as ``pictures/<name>.png``, whole or not at all (a resumed run
        does not draw a logged step again, so a torn picture would stay torn)."""
        os.makedirs(self.pictures_dir, exist_ok=True)
        path = os.path.join(self.pictures_dir, name + '.png')
        with writing(path, leftover=path + '.tmp'):
            image.save(path + '.tmp', format='PNG')
            os.replace(path + '.tmp', path)

    # ---- logs --------------------------------------------------------------------------
    def metrics_rows(self):
        """The rows of metrics.csv that are whole (a kill may cut the last one, a lost write
        leave zeros or garbage bytes)."""
        if not os.path.exists(self.metrics_path):
            return []
        with open(self.metrics_path, newline='', errors='replace') as f:
            lines = (line.replace('\0', '') for line in f)
            return [r for r in csv.DictReader(lines) if whole_row(r)]

    def append_metrics(self, row):
        """Appends one MetricsRow (its columns: metrics_fields)."""
        new = not os.path.exists(self.metrics_path)
        fields = metrics_fields(row.heldout_count_acc is not None)
        with writing(self.metrics_path), open(self.metrics_path, 'a', newline='') as f:
            writer = csv.DictWriter(f, fields, extrasaction='ignore')
            if new:
                writer.writeheader()
            writer.writerow(row._asdict())

    def cut_logs_to(self, step):
        """Drops every metrics row and TensorBoard event above ``step``, the step training
        resumes from (0 for a fresh start: a run killed before its first checkpoint leaves
        rows that its rerun would log again); returns the steps still logged."""
        rows = [r for r in self.metrics_rows() if int(r['step']) <= step]
        if os.path.exists(self.metrics_path):
            with open(self.metrics_path, newline='', errors='replace') as f:
                header = next(csv.reader(f), [])
            fields = metrics_fields('heldout_count_acc' in header)
            with open(self.metrics_path + '.tmp', 'w', newline='') as f:
                writer = csv.DictWriter(f, fields)
                writer.writeheader()
                writer.writerows(rows)
            os.replace(self.metrics_path + '.tmp', self.metrics_path)
        for path in glob.glob(os.path.join(self.tensorboard_dir, '*tfevents*')):
            cut_events(path, step)
        return {int(r['step']) for r in rows}


def checkpoint_step(path):
    """``.../ckpt-80`` -> 80."""
    match = re.search(r'ckpt-(\d+)$', path)
    return int(match.group(1)) if match else -1


def remove_checkpoint(prefix):
    """Deletes a checkpoint's files, its index first (what is left is never taken for a
    whole checkpoint)."""
    for path in [prefix + '.index', *glob.glob(glob.escape(prefix) + '.data-*')]:
        if os.path.exists(path):
            os.remove(path)


# What JSON calls the values json.load returns (a settings.json of another kind is named so).
JSON_KINDS = {type(None): 'JSON null', bool: 'a JSON true or false', list: 'a JSON array',
              str: 'a JSON string', int: 'a JSON number', float: 'a JSON number'}


def settings_problem(settings):
    """Why ``settings`` (parsed JSON) is not a run's settings, or None."""
    if not isinstance(settings, dict):
        return f'{JSON_KINDS[type(settings)]}, not an object'
    missing = [k for k in REQUIRED_SETTINGS if k not in settings]
    if missing:
        return f'no {", ".join(missing)}'
    if not isinstance(settings['config'], dict):
        return '"config" is not an object'
    return None


def whole_row(row):
    """Whether a metrics.csv row is whole: an integer step, and a number in every column of
    the file's header (a row cut short leaves some None, garbage leaves text or extra
    fields)."""
    try:
        [float(row[k]) for k in CSV_FIELDS if k in row]
    except (KeyError, TypeError, ValueError):
        return False
    return all(k in row for k in CSV_FIELDS[:3]) and row['step'].isdigit() and None not in row


def cut_events(path, step):
    """Rewrites one TensorBoard event file without the events above ``step``, and without a
    record a kill tore (TensorFlow would stop every later read of the file there)."""
    records, torn = [], False
    iterator = iter(tf.data.TFRecordDataset(path))
    while True:
        try:
            records.append(next(iterator).numpy())
        except StopIteration:
            break
        except tf.errors.DataLossError:  # a torn or corrupted record: keep what came before
            torn = True
            break
    kept = [r for r in records if tf.compat.v1.Event.FromString(r).step <= step]
    if len(kept) == len(records) and not torn:
        return
    with tf.io.TFRecordWriter(path + '.tmp') as writer:
        for record in kept:
            writer.write(record)
    os.replace(path + '.tmp', path)


# ---- exports -----------------------------------------------------------------------------
def export_step(export_dir):
    """The step an export was made from, or None (none there, or one from before exports
    recorded it)."""
    try:
        with open(os.path.join(export_dir, 'assets.extra', 'supair.json')) as f:
            return int(json.load(f)['step'])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def replace_export(export_dir, step, write):
    """Calls ``write(folder)`` to make the SavedModel of ``step`` beside ``export_dir``, then
    swaps it in whole. Refuses (RunFolderError) if ``export_dir`` holds one of a newer step."""
    existing = export_step(export_dir)
    if existing is not None and existing > step:
        raise RunFolderError(f'{export_dir} holds a SavedModel of step {existing}, newer than '
                             f'step {step} restored here; kept it (pass another --export_dir '
                             'to export this one)')
    parent = os.path.dirname(os.path.abspath(export_dir))
    fresh = tempfile.mkdtemp(prefix='.export_', dir=parent)
    try:
        write(fresh)
        os.makedirs(os.path.join(fresh, 'assets.extra'), exist_ok=True)
        write_whole(os.path.join(fresh, 'assets.extra', 'supair.json'),
                    json.dumps({'step': int(step)}))
        old = None
        if os.path.exists(export_dir):
            old = tempfile.mkdtemp(prefix='.export_old_', dir=parent)
            os.replace(export_dir, os.path.join(old, 'saved_model'))
        os.replace(fresh, export_dir)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if os.path.exists(fresh):
            shutil.rmtree(fresh, ignore_errors=True)
