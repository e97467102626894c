"""Learning curves like the paper's Fig. 5: test count accuracy against training seconds.

    python benchmarks/plot_curves.py --runs runs [more_runs ...] --out=docs/learning_curves.png

Reads RUNS/*/metrics.csv (a run named in a later folder replaces the same name in an
earlier one); writes the PNG (one panel per data set, the ablations
dashed) and, beside it, one CSV with every run's points.
"""

import argparse
import csv
import glob
import os

from PIL import Image, ImageDraw

DATASETS = ('mnist', 'sprites', 'noisy_mnist', 'grid_mnist')
COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14))
W, H, PAD = 420, 300, 50


def read_runs(folder):
    runs = {}
    for path in sorted(glob.glob(os.path.join(folder, '*', 'metrics.csv'))):
        with open(path) as f:
            rows = list(csv.DictReader(f))
        if rows:
            runs[os.path.basename(os.path.dirname(path))] = [
                (float(r['train_seconds']), float(r['test_count_acc'])) for r in rows]
    return runs


def panel(name, runs):
    image = Image.new('RGB', (W, H), 'white')
    pen = ImageDraw.Draw(image)
    longest = max([p[0] for points in runs.values() for p in points] + [1.0])

    def to_xy(s, a):
        return PAD + (W - PAD - 10) * s / longest, H - PAD - (H - PAD - 20) * a

    pen.rectangle([PAD, 20, W - 10, H - PAD], outline='black')
    for acc in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = to_xy(0, acc)[1]
        pen.line([PAD, y, W - 10, y], fill=(225, 225, 225))
        pen.text((8, y - 6), f'{acc:.2f}', fill='black')
    for k in range(5):
        seconds = longest * k / 4
        pen.text((to_xy(seconds, 0)[0] - 12, H - PAD + 6), f'{seconds:.0f}', fill='black')
    pen.text((W // 2 - 50, H - 22), 'training seconds', fill='black')
    pen.text((PAD + 5, 4), f'{name}: test count accuracy', fill='black')
    for k, (run, points) in enumerate(sorted(runs.items())):
        colour = COLOURS[k % len(COLOURS)]
        xy = [to_xy(s, a) for s, a in [(0.0, points[0][1])] + points][1:]
        dashed = '_nobg' in run
        for (x0, y0), (x1, y1) in zip(xy[:-1], xy[1:], strict=True):
            pen.line([x0, y0, x1, y1], fill=colour, width=1 if dashed else 2)
        pen.text((W - 170, H - PAD - 16 * (k + 1)), run, fill=colour)
    return image


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--runs', nargs='+', default=['runs'])
    parser.add_argument('--out', default='docs/learning_curves.png')
    args = parser.parse_args()
    runs = {}
    for folder in args.runs:
        runs.update(read_runs(folder))
    if not runs:
        raise SystemExit(f'error: no */metrics.csv found in {" ".join(args.runs)}')
    sheet = Image.new('RGB', (2 * W, 2 * H), 'white')
    for k, name in enumerate(DATASETS):
        mine = {r: p for r, p in runs.items() if r.split('_seed')[0].replace('_nobg', '')
                .replace('_pd', '') == name}
        sheet.paste(panel(name, mine), ((k % 2) * W, (k // 2) * H))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    sheet.save(args.out)
    with open(os.path.splitext(args.out)[0] + '.csv', 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['run', 'train_seconds', 'test_count_acc'])
        for run, points in sorted(runs.items()):
            writer.writerows([run, s, a] for s, a in points)
    print(f'wrote {args.out} and its CSV: {len(runs)} runs')


if __name__ == '__main__':
    main()
