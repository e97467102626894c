"""Test metrics: count accuracy, box IoU and ELBO, computed in batches."""

import itertools

import numpy as np


def box_iou(a, b):
    """IoU of boxes ``(y0, x0, y1, x1)``, broadcasting over leading axes."""
    top, left = np.maximum(a[..., 0], b[..., 0]), np.maximum(a[..., 1], b[..., 1])
    bottom, right = np.minimum(a[..., 2], b[..., 2]), np.minimum(a[..., 3], b[..., 3])
    inter = np.clip(bottom - top, 0, None) * np.clip(right - left, 0, None)
    area_a, area_b = ((box[..., 2] - box[..., 0]) * (box[..., 3] - box[..., 1]) for box in (a, b))
    return inter / np.maximum(area_a + area_b - inter, 1e-9)


def scene_iou(pred_boxes, pred_present, true_boxes, true_counts):
    """Mean IoU over scenes whose count was right and that hold objects.

    The predicted boxes of the present steps are matched to the true boxes by the
    permutation with the largest total IoU. NaN if no scene qualifies.
    """
    scores = []
    scenes = zip(pred_boxes, pred_present, true_boxes, true_counts, strict=True)
    for boxes, present, truth, n in scenes:
        if n == 0 or present.sum() != n:
            continue
        found = boxes[present]
        best = max(np.mean([box_iou(found[i], truth[j]) for i, j in enumerate(p)])
                   for p in itertools.permutations(range(n)))
        scores.append(best)
    return float(np.mean(scores)) if scores else float('nan')


def evaluate(model, scenes, batch_size=500, elbo_scenes=1024):
    """Count accuracy and IoU on all ``scenes``, ELBO on the first ``elbo_scenes``."""
    counts, boxes, present = [], [], []
    for start in range(0, len(scenes), batch_size):
        out = model.detect(scenes.images[start:start + batch_size])
        counts.append(out['count'].numpy())
        boxes.append(out['boxes'].numpy())
        present.append(out['z_pres'].numpy() >= 0.5)
    counts, boxes, present = map(np.concatenate, (counts, boxes, present))
    elbo = np.concatenate([model.elbo(scenes.images[s:s + 256]).numpy()
                           for s in range(0, min(elbo_scenes, len(scenes)), 256)])
    return {'test_count_acc': float(np.mean(counts == scenes.counts)),
            'test_iou': scene_iou(boxes, present, scenes.boxes, scenes.counts),
            'elbo': float(np.mean(elbo)),
            'confusion': np.histogram2d(scenes.counts, counts, bins=[3, 4],
                                        range=[[0, 3], [0, 4]])[0].astype(int)}
