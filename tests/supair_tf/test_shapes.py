"""Beyond the paper's scenes: colour, other sizes, other N_max, and sampled scenes."""

import numpy as np
import pytest

from supair_tf import PRESETS, Supair

SMALL_RGB = PRESETS['sprites_rgb'].replace(patch_size=4, scene_height=9, scene_width=7, steps=2,
                                           obj_gauss=3, obj_sums=2, bg_gauss=2, bg_sums=2)


@pytest.mark.parametrize('name', ['mnist', 'sprites', 'noisy_mnist', 'grid_mnist'])
def test_every_paper_preset_keeps_the_table_1_parameter_counts(name):
    assert Supair(PRESETS[name]).parameter_counts() == {
        'inference': 2836477, 'object_spn': 286560, 'background_spn': 90108, 'total': 3213145}


def test_the_network_follows_the_scene_shape():
    model = Supair(SMALL_RGB)
    assert model.object_spn.num_items == 4 * 4 * 3
    assert model.background_spn.num_items == 9 * 7 * 3
    assert model.inference.lstm.kernel.shape == (9 * 7 * 3, 4 * 256)
    out = model.detect(np.zeros([5, 9, 7, 3], np.float32))
    assert out.boxes.shape == (5, 2, 4) and out.z_pres.shape == (5, 2)


def density(spn, values, observed):
    """p(x_observed = values[:, k]) with every other item marginalised."""
    x = np.zeros([len(values), spn.num_items], np.float32)
    mask = np.ones_like(x)
    for k, item in enumerate(observed):
        x[:, item] = values[:, k]
        mask[:, item] = 0.0
    return np.exp(spn(x, marginalized=mask).numpy()[:, 0].astype(np.float64))


def test_a_colour_object_spn_integrates_to_one_and_its_marginals_integrate_the_joint():
    spn = Supair(SMALL_RGB).object_spn
    everything = np.ones([1, spn.num_items], np.float32)
    assert spn(np.zeros_like(everything), marginalized=everything).numpy()[0, 0] == \
        pytest.approx(0.0, abs=1e-5)
    red, green = 3 * 5, 3 * 5 + 1   # two channels of pixel 5 (items are pixel-major)
    grid = np.linspace(-3.0, 4.0, 1401, dtype=np.float32)
    assert np.trapezoid(density(spn, grid[:, None], [red]), grid) == pytest.approx(1.0, abs=1e-3)
    for value in (0.1, 0.5, 0.9):
        joint = density(spn, np.stack([np.full_like(grid, value), grid], 1), [red, green])
        marginal = density(spn, np.array([[value]], np.float32), [red])[0]
        assert np.trapezoid(joint, grid) == pytest.approx(marginal, rel=1e-3)


def test_a_hidden_pixel_is_marginalised_in_every_channel():
    model = Supair(SMALL_RGB)
    rng = np.random.default_rng(0)
    scene = rng.uniform(0, 1, [1, 9, 7, 3]).astype(np.float32)
    masks = np.ones([1, 3, 9, 7], np.float32)
    masks[0, 1, 2, 3] = 0.0                          # with one object, pixel (2, 3) is hidden
    base = model.background_log_lik(scene, masks).numpy()[0]
    recoloured = scene.copy()
    recoloured[0, 2, 3] = 1.0 - scene[0, 2, 3]       # all three channels of the hidden pixel
    changed = model.background_log_lik(recoloured, masks).numpy()[0]
    assert changed[1] == pytest.approx(base[1], abs=1e-4)      # hidden with one object
    assert abs(changed[0] - base[0]) > 1e-3                     # seen with none


def test_sampled_scenes_follow_the_count_prior_and_the_box_ranges():
    config = SMALL_RGB.replace(patch_size=6, scene_height=16, scene_width=20, steps=3)
    model = Supair(config)
    out = model.sample_scenes(4000, seed=0)
    assert out.images.shape == (4000, 16, 20, 3) and out.boxes.shape == (4000, 3, 4)
    assert out.images.min() >= 0.0 and out.images.max() <= 1.0
    prior = np.exp(-0.7 * np.arange(4))
    prior /= prior.sum()
    seen = np.bincount(out.counts, minlength=4) / 4000
    assert np.all(np.abs(seen - prior) <= 4 * np.sqrt(prior * (1 - prior) / 4000)), (seen, prior)
    present = np.arange(3)[None] < out.counts[:, None]
    assert np.all(out.boxes[~present] == 0)
    y0, x0, y1, x1 = np.moveaxis(out.boxes[present], -1, 0)
    width, height = (x1 - x0) / 6, (y1 - y0) / 6
    assert np.all((width >= 0.3) & (width <= 0.9))
    assert np.all((height / width >= 0.75 - 1e-5) & (height / width <= 1.25 + 1e-5))
    assert np.all((x0 >= 0) & (x0 <= 0.9 * 20) & (y0 >= 0) & (y0 <= 0.9 * 16))
    again = model.sample_scenes(50, seed=0)
    other = model.sample_scenes(50, seed=1)
    for key in ('images', 'counts', 'boxes'):
        np.testing.assert_array_equal(getattr(again, key),
                                      getattr(model.sample_scenes(50, seed=0), key))
    assert not np.array_equal(other.images, again.images)


def test_an_empty_sampled_scene_is_the_background_and_objects_cover_only_their_boxes():
    config = SMALL_RGB.replace(patch_size=6, scene_height=16, scene_width=20, steps=3,
                               background_model=False)
    out = Supair(config).sample_scenes(300, seed=2, leaf_means=True)
    # Without a background SPN the background's mean is 0: outside every box, all is 0.
    outside = np.ones([300, 16, 20], bool)
    for b, k in zip(*np.nonzero(np.arange(3)[None] < out.counts[:, None]), strict=True):
        y0, x0, y1, x1 = out.boxes[b, k]
        outside[b, int(y0):int(np.ceil(y1)) + 1, int(x0):int(np.ceil(x1)) + 1] = False
    assert np.all(out.images[outside] == 0.0)
    assert np.all(out.images[out.counts == 0] == 0.0) and np.any(out.counts == 0)
    assert out.images[out.counts > 0].max() > 0.0


def test_unlabelled_scenes_are_evaluated_by_their_elbo_and_the_counts_found():
    from datasets import SceneSet
    from shared.evaluation import evaluate
    model = Supair(SMALL_RGB)
    images = np.random.default_rng(3).uniform(0, 1, [30, 9, 7, 3]).astype(np.float32)
    result = evaluate(model, SceneSet(images, None, None))
    assert np.isnan(result.test_count_acc) and np.isnan(result.test_iou)
    assert np.isfinite(result.elbo)
    found = model.detect(images).count.numpy()
    np.testing.assert_array_equal(result.confusion[0], np.bincount(found, minlength=3))
