"""Diagnosis: does a trained model score its own boxes above the ground-truth box?

    python benchmarks/probe_explanations.py RUN_DIR DATASET

On 300 single-object test scenes, compares log p(x, z | N=n) for the model's own
boxes and count with that for the one ground-truth box, under the trained SPNs.
"""
import sys, numpy as np, tensorflow as tf
sys.path.insert(0, __import__('os').path.dirname(__import__('os').path.dirname(__import__('os').path.abspath(__file__))))
tf.config.threading.set_intra_op_parallelism_threads(1)
from supair_tf import PRESETS, Supair
from supair_tf.transformer import transform
from supair_tf.masks import cut_and_paste
from datasets import load_dataset
import tensorflow_probability as tfp
run, name = sys.argv[1], sys.argv[2]
model = Supair(PRESETS[name].replace(background_model='nobg' not in run))
tf.train.Checkpoint(model=model).restore(tf.train.latest_checkpoint(run + '/checkpoints')).expect_partial()
_, test = load_dataset(name, mnist_dir=__import__('os').environ.get('SUPAIR_MNIST_DIR'))
one = np.nonzero(test.counts == 1)[0][:300]
images = test.images[one]
c = model.config

def log_joint(z_where, n):
    """log p(x, z | N=n) for given boxes, the model's SPNs."""
    scene = images[..., 0]
    patches, ind = transform(scene, z_where, 28)
    vis, bg, overlap = cut_and_paste(z_where, ind, 28)
    obj = model.object_spn(tf.reshape(patches, [-1, 784]), marginalized=tf.reshape(1 - vis, [-1, 784]))
    obj = tf.reshape(obj, [len(scene), -1]) * z_where[..., 0] * z_where[..., 1]
    ov = tfp.distributions.Gamma(1.0, c.overlap_rate).log_prob(overlap)
    bgll = model.background_log_lik(scene, bg)
    terms = tf.concat([tf.zeros_like(obj[:, :1]), tf.cumsum(obj + ov, axis=1)], 1) + bgll + model.count_prior
    return terms[:, n].numpy(), obj.numpy(), bgll.numpy()

out = model.detect(images)
own = out['z_where'].numpy()
own_n = out['count'].numpy()
b = test.boxes[one, 0]
gt = np.zeros_like(own)
gt[:, 0] = np.stack([(b[:, 3] - b[:, 1]) / 28, (b[:, 2] - b[:, 0]) / 28, b[:, 1], b[:, 0]], -1)
gt[:, 1:] = own[:, 1:]
lj_own = np.array([log_joint(own, n)[0] for n in range(4)])[own_n, np.arange(len(one))]
lj_gt1, obj_gt, bg_gt = log_joint(gt, 1)
_, obj_own, bg_own = log_joint(own, 1)
print('model counts on 1-digit scenes:', np.bincount(own_n, minlength=4))
print('mean log p(x,z|n) own boxes, own n:', lj_own.mean().round(1))
print('mean log p(x,z|1) ground-truth box  :', lj_gt1.mean().round(1))
print('share where GT scores higher:', np.mean(lj_gt1 > lj_own).round(3))
print('obj term own step0/1:', obj_own[:, :2].mean(0).round(1), ' gt step0:', obj_gt[:, 0].mean().round(1))
print('bg ll n=1 own:', bg_own[:, 1].mean().round(1), ' gt:', bg_gt[:, 1].mean().round(1), ' n=2 own:', bg_own[:, 2].mean().round(1))
print('own box sizes sx step0/1:', own[:, :2, 0].mean(0).round(2), ' gt sx:', gt[:, 0, 0].mean().round(2))
