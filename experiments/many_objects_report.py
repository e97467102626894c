"""Many objects, larger scenes (issue 53): the table of count accuracy, its least seed, the
mean absolute count error, box IoU and training time, and accuracy per true count.

    python experiments/many_objects_report.py [--results=results]

Reads ``results/{dataset}_max{K}_s{S}_seed{k}_metrics.csv`` (AIR's: ``air_`` before it) and,
for the mean absolute count error and the accuracy per count, the confusion matrix of the
run's final evaluation in ``..._card.json`` (its SavedModel's model card, which
experiments/collect.sh copies beside the metrics); the runs still training are read from
results/experiments/many_objects/partial/ and marked so.
"""

import argparse
import csv
import glob
import json
import os
import re
from collections import defaultdict

import numpy as np
from generalisation_report import spread

PATTERN = re.compile(r'^(?P<air>air_)?(?P<dataset>[a-z_]+?)_max(?P<most>\d+)_s(?P<size>\d+)'
                     r'_seed(?P<seed>\d+)_metrics\.csv$')


class Run:
    """One run's last evaluation: accuracy, IoU, training seconds, last step, and the
    confusion matrix (rows true, columns found) where its card is there."""

    def __init__(self, path, partial):
        with open(path, newline='') as f:
            last = list(csv.DictReader(f))[-1]
        self.accuracy, self.iou = float(last['test_count_acc']), float(last['test_iou'])
        self.seconds, self.step = float(last['train_seconds']), int(last['step'])
        self.partial = partial
        card = path[:-len('_metrics.csv')] + '_card.json'
        self.confusion = None
        if os.path.exists(card):
            with open(card) as f:
                card = json.load(f)
            if card['step'] == self.step:   # a card of this evaluation, not an earlier export
                self.confusion = np.array(card['test']['confusion_rows_true_columns_found'])

    def count_error(self):
        """Mean absolute difference between the found and the true count (None: no card)."""
        if self.confusion is None:
            return None
        true, found = np.indices(self.confusion.shape)
        return float((np.abs(true - found) * self.confusion).sum() / self.confusion.sum())

    def per_count(self):
        """Accuracy on the scenes of each true count (None: no card)."""
        if self.confusion is None:
            return None
        rows = self.confusion.sum(1)
        return np.diag(self.confusion) / np.maximum(rows, 1)


def read_runs(folders):
    """``{(scenes, model): {seed: Run}}``; a finished run (first folder) wins over a
    partial copy of the same run."""
    runs = defaultdict(dict)
    for rank, folder in enumerate(folders):
        for path in sorted(glob.glob(os.path.join(folder, '*_metrics.csv'))):
            match = PATTERN.match(os.path.basename(path))
            if not match:
                continue
            scenes = f"{match['dataset']} 0-{match['most']}, {match['size']}x{match['size']}"
            key, seed = (scenes, 'AIR' if match['air'] else 'SuPAIR'), int(match['seed'])
            runs[key].setdefault(seed, Run(path, partial=rank > 0))
    return runs


def mean_std(values, scale=100.0, digits=1):
    """generalisation_report.spread of the values there are, '-' for none."""
    values = [v for v in values if v is not None]
    return spread(values, scale, digits) if values else '-'


def tables(runs):
    """The summary table and the per-count table, in Markdown."""
    summary = ['| scenes | model | seeds | count accuracy % | least % | MAE | IoU | training s |',
               '|---|---|---|---|---|---|---|---|']
    per_count = ['| scenes | model | seeds | accuracy % on scenes of 0, 1, 2, ... objects |',
                 '|---|---|---|---|']
    for (scenes, model), seeds in sorted(runs.items()):
        done = ', '.join(f'{k} (step {r.step:,}, training)' if r.partial else str(k)
                         for k, r in sorted(seeds.items()))
        got = list(seeds.values())
        summary.append(
            f'| {scenes} | {model} | {done} | {mean_std([r.accuracy for r in got])} | '
            f'{100 * min(r.accuracy for r in got):.1f} | '
            f'{mean_std([r.count_error() for r in got], 1.0, 3)} | '
            f'{mean_std([r.iou for r in got], 1.0, 3)} | '
            f'{mean_std([r.seconds for r in got], 1.0, 0)} |')
        counts = [r.per_count() for r in got if r.per_count() is not None]
        if counts:
            mean = 100 * np.mean(counts, axis=0)
            per_count.append(f'| {scenes} | {model} | {len(counts)} | '
                             f'{" / ".join(f"{a:.1f}" for a in mean)} |')
    return '\n'.join(summary), '\n'.join(per_count)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--results', default='results')
    args = parser.parse_args()
    runs = read_runs([args.results,
                      os.path.join(args.results, 'experiments', 'many_objects', 'partial')])
    if not runs:
        raise SystemExit(f'no many-object runs in {args.results} (files named '
                         '{dataset}_max{K}_s{S}_seed{k}_metrics.csv)')
    for text in tables(runs):
        print(text + '\n')


if __name__ == '__main__':
    main()
