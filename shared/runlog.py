"""What a run leaves for people to read: metrics.csv, TensorBoard scalars, console lines.

The trainer hands numbers to a RunLog; the log computes nothing and never calls back.
"""

import math
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from shared.run_folder import RunFolder


class RunLog:
    """metrics.csv, TensorBoard summaries and console output of one run directory.

    With ``write=False`` (a worker other than the chief) it writes no files. The
    TensorBoard writer opens at the first scalar, after ``keep_until`` has cut the logs
    back to the step training resumes from.
    """

    def __init__(self, run_dir, verbose=1, write=True):
        self.folder = RunFolder(run_dir)
        self.verbose, self.write = verbose, write
        self._writer = None

    @property
    def writer(self):
        """The TensorBoard writer (a no-op one on workers that do not write)."""
        if self._writer is None:
            self._writer = (tf.summary.create_file_writer(self.folder.tensorboard_dir)
                            if self.write else tf.summary.create_noop_writer())
        return self._writer

    def say(self, text):
        """One console line (none when quiet)."""
        if self.verbose:
            print(text, flush=True)

    def epoch_progress(self, steps, done, after=None):
        """The progress display of one epoch of ``steps`` steps, ``done`` of them already
        run: Keras' bar on a terminal, a plain line per tenth of the epoch when the output
        is a file (where the bar would write one endless line of escape codes), nothing
        when quiet. Its ``update(done, elbo)`` takes the steps done and the batch ELBO;
        ``interrupt()`` goes to a new line before another line is said. ``after``: the
        run's steps after this epoch, for the lines' estimate of when the run ends (the
        terminal bar estimates the epoch's end; the epoch's first line, the run's)."""
        if not self.verbose:
            return _Quiet()
        if sys.stdout.isatty():
            return _Bar(steps, done)
        return _Lines(self.say, steps, done, after)

    def train_elbo(self, step, elbo):
        """The ELBO of one training batch, as a TensorBoard scalar."""
        with self.writer.as_default(step=step):
            tf.summary.scalar('train/elbo', elbo)

    def pictures(self, step, images):
        """PIL images ``{name: image}`` as TensorBoard images ``pictures/<name>``."""
        if not self.write:
            return
        with self.writer.as_default(step=step):
            for name, image in images.items():
                tf.summary.image(f'pictures/{name}', np.asarray(image.convert('RGB'))[None])

    def evaluation(self, row):
        """Appends a MetricsRow to metrics.csv, writes its test figures to TensorBoard and
        says them in one line."""
        if not self.write:
            return
        self.folder.append_metrics(row)
        with self.writer.as_default(step=row.step):
            for key in ('test_count_acc', 'test_iou', 'elbo', 'heldout_count_acc'):
                if getattr(row, key) is not None:
                    tf.summary.scalar(f'test/{key}', getattr(row, key))
        counted = ('' if math.isnan(row.test_count_acc) else
                   f'test count accuracy {row.test_count_acc:.4f}, IoU {row.test_iou:.3f}, ')
        if row.heldout_count_acc is not None:
            counted += f'held-out counts {row.heldout_count_acc:.4f}, '

        self.say(f'step {row.step} ({row.train_seconds:.0f} s training): {counted}'
                 f'test ELBO {row.elbo:.1f}')

    def epoch_end_elbos(self, steps_per_epoch):
        """``{epoch: test ELBO}`` of the rows logged at the end of an epoch."""
        return {int(r['step']) // steps_per_epoch: float(r['elbo'])
                for r in self.folder.metrics_rows() if int(r['step']) % steps_per_epoch == 0}

    def keep_until(self, step):
        """Drops the rows and TensorBoard events logged after ``step`` (training starts again
        from there, also from 0); returns the steps of the rows kept."""
        if not self.write:
            return set()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        return self.folder.cut_logs_to(step)


class _Quiet:
    def update(self, done, elbo):
        pass

    def interrupt(self):
        pass


class _Bar:
    def __init__(self, steps, done):
        self.bar = keras.utils.Progbar(steps, stateful_metrics=['elbo'])
        self.bar.update(done)

    def update(self, done, elbo):
        self.bar.update(done, [('elbo', elbo)])

    def interrupt(self):
        print(flush=True)


def duration(seconds):
    """``45 s``, ``12 min``, ``3 h 41 min``."""
    seconds = int(round(seconds))
    if seconds < 100:
        return f'{seconds} s'
    if seconds < 6000:
        return f'{round(seconds / 60)} min'
    return f'{seconds // 3600} h {round(seconds % 3600 / 60)} min'


class _Lines:
    """Pace in seconds per training step, not counting the intervals an evaluation took,
    and when the epoch and the run will end at that pace (training steps only)."""

    def __init__(self, say, steps, done, after=None):
        self.say, self.steps, self.every = say, steps, max(1, steps // 10)
        self.after = after
        self.last, self.last_done, self.seconds, self.counted = time.time(), done, 0.0, 0
        self.paused = False

    def update(self, done, elbo):
        now = time.time()
        if not self.paused:
            self.seconds += now - self.last
            self.counted += done - self.last_done
        self.last, self.last_done, self.paused = now, done, False
        if done % self.every and done != self.steps:
            return
        pace = ''
        if self.counted:
            per_step = self.seconds / self.counted
            pace = f', {per_step:.2f} s/step'
            if done < self.steps:
                pace += f', epoch ends in {duration(per_step * (self.steps - done))}'
            if self.after:
                pace += f', run in {duration(per_step * (self.steps - done + self.after))}'
        self.say(f'  {done}/{self.steps} steps, batch ELBO {elbo:.1f}{pace}')

    def interrupt(self):
        self.paused = True
