"""Test metrics: count accuracy, box IoU and ELBO, computed in batches."""

from typing import NamedTuple

import numpy as np


class Evaluation(NamedTuple):
    """Test figures of a model on a scene set."""

    test_count_acc: float   # share of scenes counted right (NaN without count labels), of
    #                         the trained counts where some are held out
    test_iou: float         # mean IoU of those scenes counted right (NaN: none, or no boxes)
    elbo: float             # mean ELBO
    confusion: np.ndarray   # [true counts, found counts] scenes; unlabelled: [1, found]
    extra: dict = {}        # the model's own further figures (model.extra_metrics)
    heldout_count_acc: float | None = None  # share of the scenes of held-out counts
    #                                         counted right (None: no count held out)


class MetricsRow(NamedTuple):
    """One row of metrics.csv: an evaluation at a step of training."""

    epoch: float
    step: int
    train_seconds: float
    test_count_acc: float
    test_iou: float
    elbo: float
    train_elbo: float       # mean ELBO of the last training batches
    heldout_count_acc: float | None = None  # Evaluation's; a column only where it is set


def metrics_fields(heldout):
    """The columns of metrics.csv: MetricsRow's, ``heldout_count_acc`` after
    ``test_count_acc`` for a run that holds counts out (``heldout``), else not at all."""
    fields = list(MetricsRow._fields[:-1])
    if heldout:
        fields.insert(fields.index('test_count_acc') + 1, 'heldout_count_acc')
    return fields


def box_iou(a, b):
    """IoU of boxes ``(y0, x0, y1, x1)``, broadcasting over leading axes."""
    top, left = np.maximum(a[..., 0], b[..., 0]), np.maximum(a[..., 1], b[..., 1])
    bottom, right = np.minimum(a[..., 2], b[..., 2]), np.minimum(a[..., 3], b[..., 3])
    inter = np.clip(bottom - top, 0, None) * np.clip(right - left, 0, None)
    area_a, area_b = ((box[..., 2] - box[..., 0]) * (box[..., 3] - box[..., 1]) for box in (a, b))
    return inter / np.maximum(area_a + area_b - inter, 1e-9)


def scene_iou(pred_boxes, pred_present, true_boxes, true_counts):
    """Mean IoU over scenes whose count was right and that hold objects.

    The predicted boxes of the present steps (in step order) are matched to the true boxes
    by the assignment with the largest mean IoU (best_assignment). NaN if no scene
    qualifies. Vectorised over the scenes of each count: a Python loop over 10,000 test
    scenes took as long as detecting them.
    """
    present_counts = pred_present.sum(1)
    scores = []
    for n in range(1, true_boxes.shape[1] + 1):
        chosen = (true_counts == n) & (present_counts == n)
        if not chosen.any():
            continue
        # Present steps first, each group in step order (a stable sort).
        order = np.argsort(~pred_present[chosen], axis=1, kind='stable')[:, :n]
        found = np.take_along_axis(pred_boxes[chosen], order[..., None], axis=1)
        pairs = box_iou(found[:, :, None], true_boxes[chosen][:, None, :n])  # [s, found, true]
        scores.append(best_assignment(pairs) / n)
    return float(np.mean(np.concatenate(scores))) if scores else float('nan')


def best_assignment(pairs):
    """The largest sum of ``pairs[s, i, p(i)]`` over permutations p, for each of the ``s``
    square matrices ``pairs [s, n, n]``: a dynamic programme over the subsets of columns
    taken by rows 0..i-1 (2^n n steps, each over all scenes at once), where trying every
    permutation took 21 s and 3 GB for 1,000 scenes of 9 objects."""
    s, n, _ = pairs.shape
    # Summed row by row in the entries' type: the same numbers as their mean along the best
    # p (the permutation search this replaced), to the last bit for n < 8.
    best = np.full([s, 1 << n], -np.inf, pairs.dtype)
    best[:, 0] = 0.0
    for taken in range(1 << n):          # a subset before any that contains it
        row = bin(taken).count('1')
        if row == n:
            continue
        for column in range(n):
            if not taken >> column & 1:
                wider = taken | 1 << column
                best[:, wider] = np.maximum(best[:, wider],
                                            best[:, taken] + pairs[:, row, column])
    return best[:, -1]


def evaluate(model, scenes, batch_size=2500, elbo_scenes=1024):
    """Count accuracy and IoU on all ``scenes``, ELBO on the first ``elbo_scenes``.

    Unlabelled scenes (``scenes.counts`` None) give the ELBO and the histogram of the
    counts found; accuracy and IoU are NaN there. ``confusion[t, f]`` counts the scenes
    with t objects in which f were found (t up to the data's most, f up to N_max), over
    every count; where ``scenes.heldout_counts`` names some, accuracy and IoU are of the
    other scenes, and ``heldout_count_acc`` the accuracy on the held-out counts' scenes.
    """
    counts, boxes, present = [], [], []
    for start in range(0, len(scenes), batch_size):
        out = model.detect(scenes.images[start:start + batch_size])
        counts.append(out.count.numpy())
        boxes.append(out.boxes.numpy())
        present.append(out.z_pres.numpy() >= 0.5)
    counts, boxes, present = map(np.concatenate, (counts, boxes, present))
    elbo = np.concatenate([model.elbo(scenes.images[s:s + 256]).numpy()
                           for s in range(0, min(elbo_scenes, len(scenes)), 256)])
    found = model.config.steps + 1
    if scenes.counts is None:
        return Evaluation(float('nan'), float('nan'), float(np.mean(elbo)),
                          np.bincount(counts, minlength=found)[None], model.extra_metrics(scenes))
    most = max(int(scenes.counts.max()), scenes.boxes.shape[1])
    held = np.isin(scenes.counts, scenes.heldout_counts)
    right = counts == scenes.counts
    trained = ~held
    return Evaluation(share(right[trained]),
                      scene_iou(boxes[trained], present[trained], scenes.boxes[trained],
                                scenes.counts[trained]),
                      float(np.mean(elbo)),
                      np.histogram2d(scenes.counts, counts, bins=[most + 1, found],
                                     range=[[0, most + 1], [0, found]])[0].astype(int),
                      model.extra_metrics(scenes),
                      share(right[held]) if scenes.heldout_counts else None)


def share(hits):
    """The share of True in a boolean array (NaN if it is empty)."""
    return float(np.mean(hits)) if hits.size else float('nan')
