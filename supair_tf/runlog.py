"""What a run leaves for people to read: metrics.csv, TensorBoard scalars, console lines.

The trainer hands numbers to a RunLog; the log computes nothing and never calls back.
"""

import csv
import math
import os

import tensorflow as tf

CSV_FIELDS = ['epoch', 'step', 'train_seconds', 'test_count_acc', 'test_iou', 'elbo',
              'train_elbo']


class RunLog:
    """metrics.csv, TensorBoard summaries and console output of one run directory.

    With ``write=False`` (a worker other than the chief) it writes no files.
    """

    def __init__(self, run_dir, verbose=1, write=True):
        self.path = os.path.join(run_dir, 'metrics.csv')
        self.verbose, self.write = verbose, write
        self.writer = (tf.summary.create_file_writer(os.path.join(run_dir, 'tensorboard'))
                       if write else tf.summary.create_noop_writer())

    def say(self, text):
        """One console line (none when quiet)."""
        if self.verbose:
            print(text, flush=True)

    def train_elbo(self, step, elbo):
        """The ELBO of one training batch, as a TensorBoard scalar."""
        with self.writer.as_default(step=step):
            tf.summary.scalar('train/elbo', elbo)

    def evaluation(self, row):
        """Appends a metrics.csv row (the keys of CSV_FIELDS), writes its test figures to
        TensorBoard and says them in one line."""
        if not self.write:
            return
        new = not os.path.exists(self.path)
        with open(self.path, 'a', newline='') as f:
            writer = csv.DictWriter(f, CSV_FIELDS)
            if new:
                writer.writeheader()
            writer.writerow(row)
        with self.writer.as_default(step=row['step']):
            for key in ('test_count_acc', 'test_iou', 'elbo'):
                tf.summary.scalar(f'test/{key}', row[key])
        counted = ('' if math.isnan(row['test_count_acc']) else
                   f"test count accuracy {row['test_count_acc']:.4f}, IoU {row['test_iou']:.3f}, ")
        self.say(f"step {row['step']} ({row['train_seconds']:.0f} s training): {counted}"
                 f"test ELBO {row['elbo']:.1f}")

    def epoch_end_elbos(self, steps_per_epoch):
        """``{epoch: test ELBO}`` of the rows logged at the end of an epoch."""
        if not os.path.exists(self.path):
            return {}
        with open(self.path, newline='') as f:
            return {int(r['step']) // steps_per_epoch: float(r['elbo'])
                    for r in csv.DictReader(f) if int(r['step']) % steps_per_epoch == 0}

    def keep_until(self, step):
        """Drops the rows logged after ``step`` (a resumed run starts again from its
        checkpoint); returns the steps of the rows kept."""
        if not self.write or not os.path.exists(self.path):
            return set()
        with open(self.path, newline='') as f:
            rows = [r for r in csv.DictReader(f) if int(r['step']) <= step]
        with open(self.path + '.tmp', 'w', newline='') as f:
            writer = csv.DictWriter(f, CSV_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(self.path + '.tmp', self.path)
        return {int(r['step']) for r in rows}
