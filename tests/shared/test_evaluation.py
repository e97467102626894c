"""The headline metric against answers worked out by hand: count accuracy, box IoU and the
confusion matrix (rows: true counts, columns: counts found) of fixed detections."""

import types

import numpy as np
import tensorflow as tf

from datasets.core import SceneSet
from shared.evaluation import evaluate
from shared.interface import Detection

# Four scenes; truth boxes (y0, x0, y1, x1), two slots each.
A, B, EMPTY = (0, 0, 10, 10), (20, 20, 30, 30), (0, 0, 0, 0)
TRUE_COUNTS = np.array([0, 1, 2, 1])
TRUE_BOXES = np.array([[EMPTY, EMPTY], [A, EMPTY], [A, B], [A, EMPTY]], np.float32)
# What the model finds (three steps): a step is present where z_pres >= 0.5.
Z_PRES = np.array([[0.1, 0.0, 0.0],     # nothing: right
                   [0.9, 0.2, 0.0],     # one: right, box half of A (IoU 50/100)
                   [0.8, 0.3, 0.6],     # two (steps 0 and 2): right, B exactly and A
                                        # stretched to twice its width (IoU 100/200)
                   [0.7, 0.6, 0.1]],    # two where there is one: wrong
                  np.float32)
FOUND_BOXES = np.array([[EMPTY, EMPTY, EMPTY],
                        [(0, 0, 10, 5), (5, 5, 9, 9), EMPTY],
                        [B, (40, 40, 45, 45), (0, 0, 10, 20)],
                        [A, B, EMPTY]], np.float32)


class FixedModel:
    """A model whose detections and ELBOs are the ones above."""

    config = types.SimpleNamespace(steps=3)

    def detect(self, images):
        n = len(images)
        return Detection(tf.constant((Z_PRES[:n] >= 0.5).sum(1).astype(np.int32)),
                         tf.constant(Z_PRES[:n]), tf.zeros([n, 3, 4]), tf.constant(FOUND_BOXES[:n]))

    def elbo(self, images):
        return tf.constant([10.0, 20.0, 30.0, 60.0][:len(images)])

    def extra_metrics(self, scenes):
        return {}


def test_evaluation_of_fixed_detections_gives_the_hand_worked_answer():
    scenes = SceneSet(np.zeros([4, 50, 50, 1], np.float32), TRUE_COUNTS, TRUE_BOXES)
    result = evaluate(FixedModel(), scenes)
    assert result.test_count_acc == 0.75                  # scenes 0, 1, 2 of 4
    # Scenes counted right that hold objects: 1 (0.5) and 2 ((1 + 0.5) / 2 = 0.75).
    assert abs(result.test_iou - (0.5 + 0.75) / 2) < 1e-6
    assert result.elbo == 30.0
    # Rows are true counts 0-2, columns the counts found 0-3.
    np.testing.assert_array_equal(result.confusion, [[1, 0, 0, 0],
                                                     [0, 1, 1, 0],
                                                     [0, 0, 1, 0]])


def test_evaluation_matches_boxes_across_steps_by_the_best_permutation():
    # The same scene 2 with its found boxes in the other step order: same IoU.
    swapped = FOUND_BOXES.copy()
    swapped[2, [0, 2]] = swapped[2, [2, 0]]
    scenes = SceneSet(np.zeros([4, 50, 50, 1], np.float32), TRUE_COUNTS, TRUE_BOXES)
    model = FixedModel()
    model.detect = lambda images: Detection(
        tf.constant((Z_PRES >= 0.5).sum(1).astype(np.int32)), tf.constant(Z_PRES),
        tf.zeros([4, 3, 4]), tf.constant(swapped))
    assert abs(evaluate(model, scenes).test_iou - 0.625) < 1e-6


def test_held_out_counts_are_scored_apart_and_the_confusion_covers_every_count():
    # Count 2 held out: scene 2 (counted right); the others as before, minus it.
    scenes = SceneSet(np.zeros([4, 50, 50, 1], np.float32), TRUE_COUNTS, TRUE_BOXES, (2,))
    result = evaluate(FixedModel(), scenes)
    assert result.heldout_count_acc == 1.0
    assert result.test_count_acc == 2 / 3                   # scenes 0, 1 of 0, 1, 3
    assert abs(result.test_iou - 0.5) < 1e-6                # scene 1 alone
    assert result.confusion.sum() == 4 and result.confusion[2, 2] == 1
    assert evaluate(FixedModel(), scenes.subset(2)).heldout_count_acc != \
        evaluate(FixedModel(), scenes.subset(2)).heldout_count_acc  # none there: NaN
    assert evaluate(FixedModel(), SceneSet(scenes.images, TRUE_COUNTS, TRUE_BOXES)
                    ).heldout_count_acc is None
