"""The AIR paper's strong-generalisation experiment (Eslami et al. 2016, Fig. 6) for every
model here: count accuracy on the held-out count and on the trained counts over training.

    python experiments/generalisation_report.py [--results=results] [--out=docs/generalisation]

Reads ``results/{name}_{task}_seed{k}_metrics.csv`` (and ``_settings.json``): ``name`` air,
dair, supair or supair_<variant>, ``task`` extrapolate (trained on 0-2 digits, exactly 3
held out) or interpolate (0, 1 and 3; exactly 2 held out); the runs still training are read
from results/experiments/generalisation/partial/ and marked so. Prints a Markdown table
(the last evaluation of each run: mean +- std over seeds of ``heldout_count_acc`` and
``test_count_acc``) and draws one panel per task, accuracy against training steps, a
solid line per model for the held-out count and a dashed one for the trained counts
(bold: the mean of the finished seeds over the steps they all reached; each seed thin, as
far as it has run). Needs matplotlib (requirements-bench.txt).
"""

import argparse
import csv
import glob
import os
import re
from collections import defaultdict

import numpy as np

TASKS = {'extrapolate': 'Extrapolation: trained on 0-2 digits, 3 held out',
         'interpolate': 'Interpolation: trained on 0, 1, 3 digits, 2 held out'}
LABELS = {'air': 'AIR', 'dair': 'DAIR', 'supair': 'SuPAIR',
          'supair_residual': 'SuPAIR, --inference_reads=residual --residual_margin=2',
          'supair_residual_peak': 'SuPAIR, --inference_reads=residual_presence '
                                  '--residual_peak --residual_margin=2',
          'supair_residual_peak13': 'SuPAIR, --inference_reads=residual_presence '
                                    '--residual_peak --residual_peak_window=13 '
                                    '--residual_margin=2'}
# The figure's legend: short names (the table above it gives each one's flags).
SHORT = {'supair_residual': 'SuPAIR residual', 'supair_residual_peak': 'SuPAIR peak 17 px',
         'supair_residual_peak13': 'SuPAIR peak 13 px'}
PATTERN = re.compile(r'^(?P<name>[a-z0-9_]+?)_(?P<task>extrapolate|interpolate)_seed(?P<seed>\d+)'
                     r'_metrics\.csv$')


def read_runs(folders):
    """``{(name, task): {seed: (steps, heldout, trained, partial)}}`` of the runs' files;
    a finished run (in the first folder) wins over a partial copy of the same run."""
    runs = defaultdict(dict)
    for rank, folder in enumerate(folders):
        for path in sorted(glob.glob(os.path.join(folder, '*_metrics.csv'))):
            match = PATTERN.match(os.path.basename(path))
            if not match:
                continue
            key, seed = (match['name'], match['task']), int(match['seed'])
            if seed in runs[key]:
                continue
            with open(path, newline='') as f:
                rows = list(csv.DictReader(f))
            if not rows or 'heldout_count_acc' not in rows[0]:
                continue
            runs[key][seed] = (np.array([int(r['step']) for r in rows]),
                               np.array([float(r['heldout_count_acc']) for r in rows]),
                               np.array([float(r['test_count_acc']) for r in rows]), rank > 0)
    return runs


def spread(values, scale=100.0, digits=1):
    """'mean +- std' of ``scale * values`` (in percent by default; std over seeds, ddof 1;
    one seed: the value alone)."""
    values = scale * np.asarray(values)
    if len(values) == 1:
        return f'{values[0]:.{digits}f}'
    return f'{values.mean():.{digits}f} +- {values.std(ddof=1):.{digits}f}'


def finished(seeds):
    """The seeds ``{seed: (steps, heldout, trained, partial)}`` whose runs have ended."""
    return {k: v for k, v in seeds.items() if not v[3]}


def table(runs):
    """Markdown: per task and model, the finished seeds' last step, held-out and trained
    accuracy (mean +- std), then one row for each seed still training, alone: a run cut
    short is not averaged with finished ones."""
    lines = ['| task | model | seeds | last step | held-out count acc. % | trained counts acc. % |',
             '|---|---|---|---|---|---|']
    for task in TASKS:
        for name in sorted({n for n, t in runs if t == task}, key=model_order):
            seeds = runs[(name, task)]
            done = finished(seeds)
            groups = ([(", ".join(map(str, done)), done)] if done else []) + [
                (f'{k} (training)', {k: v}) for k, v in seeds.items() if v[3]]
            for label, group in groups:
                last = [int(steps[-1]) for steps, *_ in group.values()]
                lines.append(f'| {task} | {LABELS.get(name, name)} | {label} | '
                             f'{min(last):,}{f"-{max(last):,}" if len(set(last)) > 1 else ""} | '
                             f'{spread([h[-1] for _, h, _, _ in group.values()])} | '
                             f'{spread([t[-1] for _, _, t, _ in group.values()])} |')
    return '\n'.join(lines)


def model_order(name):
    """AIR, DAIR, SuPAIR, then SuPAIR's variants."""
    return (list(LABELS).index(name) if name in LABELS else len(LABELS), name)


def curves(seeds, which):
    """Steps common to every seed, and the seeds' accuracies there ``[seeds, steps]``."""
    steps = sorted(set.intersection(*(set(run[0].tolist()) for run in seeds.values())))
    rows = [np.interp(steps, run[0], run[1 + which]) for run in seeds.values()]
    return np.array(steps), np.array(rows)


def figure(runs, out):
    """One panel per task (PNG at ``out``.png)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(TASKS), figsize=(6 * len(TASKS), 6.0), squeeze=False)
    for ax, (task, title) in zip(axes[0], TASKS.items(), strict=True):
        names = sorted({n for n, t in runs if t == task}, key=model_order)
        for name in names:
            colour = f'C{model_order(name)[0] % 10}'   # one colour per model in both panels
            for which, style, part in ((0, '-', 'held-out count'), (1, '--', 'trained counts')):
                # Each seed thin, as far as it has run; thick, the mean of the finished
                # seeds (a model with none yet is named on its first thin line).
                short = SHORT.get(name, LABELS.get(name, name))
                seeds, label = runs[(name, task)], f'{short}, {part}'
                done = finished(seeds)
                for j, run in enumerate(seeds.values()):
                    ax.plot(run[0], run[1 + which], style, color=colour, alpha=0.3, lw=0.8,
                            label=f'{label} (training)' if not done and j == 0 else None)
                steps, rows = curves(done, which) if done else ((), None)
                if len(steps):
                    ax.plot(steps, rows.mean(0), style, color=colour, label=label)
        ax.set(title=title, xlabel='training step', ylabel='count accuracy', ylim=(0, 1.01))
        ax.grid(alpha=0.3)
        if names:
            ax.set_xscale('log')
            ax.set_xlim(left=50)
            ax.legend(fontsize=7, loc='upper center', bbox_to_anchor=(0.5, -0.14), ncol=2)
        else:
            ax.text(0.5, 0.5, 'no runs yet', ha='center', transform=ax.transAxes)
    fig.tight_layout()
    os.makedirs(os.path.dirname(out) or '.', exist_ok=True)
    fig.savefig(out + '.png', dpi=110)
    return out + '.png'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--results', default='results')
    parser.add_argument('--out', default='docs/generalisation')
    args = parser.parse_args()
    runs = read_runs([args.results,
                      os.path.join(args.results, 'experiments', 'generalisation', 'partial')])
    if not runs:
        raise SystemExit(f'no generalisation runs in {args.results} (files named '
                         '{name}_{extrapolate|interpolate}_seed{k}_metrics.csv)')
    print(table(runs))
    print(f'figure: {figure(runs, args.out)}')


if __name__ == '__main__':
    main()
