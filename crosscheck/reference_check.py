"""Differential check against the authors' TensorFlow 1.7 code (stelzner/supair, src/).

Builds the original graph under ``tf.compat.v1`` beside our model, gives both the same
region graphs (the original's, drawn by its own RegionGraph), the same parameters (ours,
written into the original's variables) and the same z_where noise, and compares on one
batch of each data set: the per-scene ELBO and the gradient of the negative mean ELBO
for every parameter group. Also prints the original's parameter counts.

    python crosscheck/reference_check.py --original=PATH/TO/supair/src [--batch=32]

The original needs what no longer exists; this script supplies small stand-ins of its
own (never the original's code): tf.contrib's BasicLSTMCell (one kernel over [input, h],
gates i, j, f, o, forget bias 1), its distributions (TFP's Normal and Gamma; a diagonal
Normal whose sample is ``loc + scale * noise`` with the noise fed in), and its Xavier
initializer. scipy.misc.imresize is only used by the original's data and picture code,
which this check does not import. Not run by CI; the original is never committed here.
"""

import os
import sys
import types

import numpy as np
import tensorflow as tf
import tensorflow.python  # noqa: F401  (the original imports its ops modules)
import tensorflow_probability as tfp
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from datasets import load_dataset  # noqa: E402
from rat_spn import RegionGraph  # noqa: E402
from supair_tf import PRESETS, Supair  # noqa: E402

flags.DEFINE_string('original', None, "folder of the original's src/ (model.py, rat_spn.py, ...)")
flags.DEFINE_integer('batch', 32, 'scenes per data set')
flags.DEFINE_string('data_dir', '~/.cache/supair', 'cache of built data sets')
flags.DEFINE_string('mnist_dir', '../shared/mnist', 'MNIST IDX files')
flags.DEFINE_list('datasets', ['mnist', 'sprites', 'noisy_mnist', 'grid_mnist', 'noisy_mnist_nobg'],
                  'data sets to check (_nobg: the ablation with the fixed Normal background)')
flags.DEFINE_integer('seed', 0, 'seed of our parameters, of the noise and of the structures')
FLAGS = flags.FLAGS
v1 = tf.compat.v1


# ---- stand-ins for what TF 1.7 had and TF 2 does not -----------------------------------
class LstmCellStandIn:
    """tf.contrib.rnn.BasicLSTMCell: kernel [inputs + units, 4 units] (gates i, j, f, o),
    bias, forget bias 1 added to f; state (c, h); variables made at the first call."""

    def __init__(self, units):
        self.units, self.kernel = units, None

    def __call__(self, inputs, state):
        c, h = state
        if self.kernel is None:
            with v1.variable_scope('basic_lstm_cell'):
                self.kernel = v1.get_variable(
                    'kernel', [int(inputs.shape[1]) + self.units, 4 * self.units],
                    initializer=v1.glorot_uniform_initializer())
                self.bias = v1.get_variable('bias', [4 * self.units],
                                            initializer=v1.zeros_initializer())
        gates = tf.matmul(tf.concat([inputs, h], 1), self.kernel) + self.bias
        i, j, f, o = tf.split(gates, 4, axis=1)
        c = c * tf.sigmoid(f + 1.0) + tf.sigmoid(i) * tf.tanh(j)
        h = tf.tanh(c) * tf.sigmoid(o)
        return h, (c, h)


class FedNoise:
    """The noise a MultivariateNormalDiag stand-in samples with (a placeholder per graph)."""
    tensor = None


class DiagonalNormalStandIn:
    """MultivariateNormalDiag(loc, scale_diag): ``sample() = loc + scale * noise`` with the
    fed noise; ``log_prob`` sums the univariate log-densities over the last axis."""

    def __init__(self, loc, scale_diag):
        self.loc, self.scale = loc, scale_diag

    def sample(self):
        return self.loc + self.scale * FedNoise.tensor

    def log_prob(self, x):
        return tf.reduce_sum(tfp.distributions.Normal(self.loc, self.scale).log_prob(x), -1)


def import_original(src):
    """The original's model and config modules, imported against a ``tensorflow`` that is
    tf.compat.v1 plus the stand-ins above (the real module is put back afterwards)."""
    contrib = types.ModuleType('tensorflow.contrib')
    contrib.rnn = types.ModuleType('tensorflow.contrib.rnn')
    contrib.rnn.BasicLSTMCell = LstmCellStandIn
    contrib.distributions = types.ModuleType('tensorflow.contrib.distributions')
    contrib.distributions.Normal = tfp.distributions.Normal
    contrib.distributions.Gamma = tfp.distributions.Gamma
    contrib.distributions.MultivariateNormalDiag = DiagonalNormalStandIn
    contrib.layers = types.SimpleNamespace(xavier_initializer=v1.glorot_uniform_initializer)
    shim = types.ModuleType('tensorflow')
    shim.__dict__.update({k: getattr(v1, k) for k in dir(v1) if not k.startswith('__')})
    shim.contrib, shim.python = contrib, sys.modules['tensorflow.python']
    # The original's top-level modules: rat_spn is also our package's name, so ours steps
    # aside while the original's model imports its own.
    ours = {k: sys.modules.pop(k) for k in list(sys.modules)
            if k == 'rat_spn' or k.startswith('rat_spn.')}
    real = sys.modules['tensorflow']
    names = {'tensorflow': shim, 'tensorflow.contrib': contrib,
             'tensorflow.contrib.rnn': contrib.rnn,
             'tensorflow.contrib.distributions': contrib.distributions}
    sys.modules.update(names)
    sys.path.insert(0, src)
    try:
        import config as original_config_module
        import model as original_model_module
    finally:
        sys.path.remove(src)
        for name in (*names, 'config', 'model', 'rat_spn', 'region_graph', 'relu_mlp',
                     'spatial_transformer'):
            sys.modules.pop(name, None)
        sys.modules['tensorflow'] = real
        sys.modules.update(ours)
    return original_model_module, original_config_module


def original_config(config_module, config):
    """The original's SupairConfig with our preset's settings."""
    conf = config_module.SupairConfig()
    conf.batch_size = FLAGS.batch
    conf.background_model = config.background_model
    conf.obj_min_var, conf.obj_max_var = config.obj_var_range
    conf.bg_min_var, conf.bg_max_var = config.bg_var_range
    return conf


# ---- the same structures and parameters in both ------------------------------------------
def our_graph(original_spn):
    """Our RegionGraph with the original SPN's regions and partitions, each region's
    partitions in the order its sum vector concatenates their products."""
    graph = RegionGraph(original_spn.num_dims)
    for layer in reversed(original_spn.vector_list[2::2]):  # parents first
        for sums in layer:
            region = tuple(sorted(sums.scope))
            for product in sums.inputs:
                graph.add_partition(region, [product.vector1.scope, product.vector2.scope])
    return graph


def region_order(spn):
    """Our values tensor's rows as regions: leaf regions, then each level bottom-up."""
    layers = spn.region_graph.layers()
    return layers[0] + [r for layer in layers[2::2] for r in layer]


def spn_pairs(ours, original):
    """(our variables, original variable, layout, offset) for every SPN parameter; the
    original's value is ``layout(ours)`` (its gradient likewise), offset is None."""
    by_name = {v.name: v for v in original.variables}
    pairs = []
    for r, region in enumerate(ours.region_graph.layers()[0]):
        gauss = {tuple(sorted(v.scope)): v for v in original.vector_list[0]}[tuple(region)]
        rows = ours.leaf_entry[r, :len(region)]
        for source, suffix in ((ours.means, 'means'), (ours.var_params, 'sigma_params')):
            target = by_name[f'{original.name}/{gauss.name}_{suffix}:0']
            pairs.append(((source,), target, lambda x, rows=rows: x[rows][None], None))
    sums_by_region = {tuple(sorted(v.scope)): v for layer in original.vector_list[2::2]
                      for v in layer}
    order, width = region_order(ours), ours.width
    for k, level in enumerate(ours.levels):
        for row, region_index in enumerate(level.regions):
            sums = sums_by_region[tuple(order[region_index])]
            # Ours numbers a partition's products i * W + j (i: left child); the original
            # j * n1 + i (its outer product runs over the right child first).
            products = []
            for p, product in enumerate(sums.inputs):
                n1, n2 = product.vector1.size, product.vector2.size
                products += [p * width * width + i * width + j
                             for j in range(n2) for i in range(n1)]
            index = level.gather[row, products]
            pairs.append(((ours.sum_logits[k],), sums.params,
                          lambda x, index=index: x[index][None], None))
    return pairs


def inference_pairs(ours, original_variables):
    """The same for the LSTM and the MLP; the LSTM bias's offset is the forget bias 1 that
    ours keeps in the variable and the original adds in the cell."""
    lstm, units = ours.inference.lstm, ours.config.lstm_units
    by_name = {v.name: v for v in original_variables}

    def gate_order(*parts):  # ours i, f, g, o -> the original's i, j (= g), f, o
        i, f, g, o = np.split(np.concatenate(parts), 4, axis=-1)
        return np.concatenate([i, g, f, o], axis=-1)

    def same(x):
        return x

    scope = 'detection-rnn/'
    return [
        ((lstm.kernel, lstm.recurrent_kernel), by_name[scope + 'basic_lstm_cell/kernel:0'],
         gate_order, None),
        ((lstm.bias,), by_name[scope + 'basic_lstm_cell/bias:0'], gate_order,
         np.repeat(np.float32([0, 1, 0, 0]), units)),
        ((ours.inference.hidden.kernel,), by_name[scope + 'layer_0/W:0'], same, None),
        ((ours.inference.hidden.bias,), by_name[scope + 'layer_0/b:0'], same, None),
        ((ours.inference.head.kernel,), by_name[scope + 'layer_1/W:0'], same, None),
        ((ours.inference.head.bias,), by_name[scope + 'layer_1/b:0'], same, None)]


def parameter_groups(ours, original, variables):
    """(label, our variables, original variable, layout, offset) for every parameter of
    the original's ``variables`` (see spn_pairs)."""
    groups = [('inference ' + '/'.join(target.name.split('/')[-2:])[:-2], *pair)
              for pair in inference_pairs(ours, variables)
              for target in [pair[1]]]
    spns = [('object_spn', ours.object_spn, original.obj_spn)]
    if ours.background_spn is not None:
        spns.append(('background_spn', ours.background_spn, original.bg_spn))
    for label, our_spn, their_spn in spns:
        for pair in spn_pairs(our_spn, their_spn):
            groups.append((f"{label} {pair[0][0].path.split('/')[-1]}", *pair))
    return groups


def in_original_layout(group):
    """A group's current values of ours as the original's variable would hold them."""
    _, sources, _, layout, offset = group
    values = np.asarray(layout(*[s.numpy() for s in sources]))
    return values if offset is None else values - layout(offset)


def load_into_original(groups, session):
    """Writes our parameters' values into the original's variables (in its session)."""
    values = [in_original_layout(group) for group in groups]  # eager, outside its graph
    with session.graph.as_default():
        for (_, _, target, _, _), value in zip(groups, values, strict=True):
            target.load(value, session)


def load_into_ours(groups, session):
    """The reverse of load_into_original: writes the original's current values (its own
    initialisers, say) into our variables. Each layout is a gather, so it is applied to
    our entries' flat positions to find where each of the original's entries goes; our
    entries no original entry maps to (padding) keep their values. Returns the share of
    our entries written, per variable path."""
    variables = {id(s): s for _, sources, _, _, _ in groups for s in sources}
    values = {key: v.numpy().reshape(-1) for key, v in variables.items()}
    written = {key: np.zeros(value.shape, bool) for key, value in values.items()}
    for _, sources, target, layout, offset in groups:
        starts = np.cumsum([0] + [int(np.prod(s.shape)) for s in sources])
        positions = layout(*[start + np.arange(int(np.prod(s.shape))).reshape(s.shape)
                             for start, s in zip(starts[:-1], sources, strict=True)])
        theirs = session.run(target)
        if offset is not None:
            theirs = theirs + layout(offset)
        for k, s in enumerate(sources):
            mine = (positions >= starts[k]) & (positions < starts[k + 1])
            values[id(s)][positions[mine] - starts[k]] = theirs[mine]
            written[id(s)][positions[mine] - starts[k]] = True
    for key, variable in variables.items():
        variable.assign(values[key].reshape(variable.shape))
    return {variables[key].path: float(mask.mean()) for key, mask in written.items()}


# ---- one data set ------------------------------------------------------------------------
def check(name, original, images, noise):
    dataset, nobg = name.removesuffix('_nobg'), name.endswith('_nobg')
    config = PRESETS[dataset].replace(background_model=not nobg, batch_size=FLAGS.batch,
                                      procedure='paper')
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(FLAGS.seed)
        FedNoise.tensor = v1.placeholder(tf.float32, [FLAGS.batch, 3, 4])
        model_module, config_module = original
        original = model_module.Supair(original_config(config_module, config), seed=FLAGS.seed)
        scenes = v1.placeholder(tf.float32, [FLAGS.batch, 50, 50, 1])
        mean_elbo = original.elbo(scenes)
        per_scene = mean_elbo.op.inputs[0]  # the vector the original averages
        # The ablation's original still builds a background SPN, unused: no gradient.
        variables = [v for v, g in zip(v1.trainable_variables(), tf.gradients(
            -mean_elbo, v1.trainable_variables()), strict=True) if g is not None]
        gradients = tf.gradients(-mean_elbo, variables)
        session = v1.Session(graph=graph)
        session.run(v1.global_variables_initializer())
    ours = Supair(config, seed=FLAGS.seed, jit_compile=False,
                  graphs=(our_graph(original.obj_spn), our_graph(original.bg_spn)))
    groups = parameter_groups(ours, original, variables)
    load_into_original(groups, session)
    feed = {scenes: images, FedNoise.tensor: noise}
    theirs_elbo, theirs_grads = session.run([per_scene, gradients], feed)
    session.close()
    theirs_grads = {v.name: g for v, g in zip(variables, theirs_grads, strict=True)}
    return compare(name, groups, ours, images, noise, theirs_elbo, theirs_grads)


def compare(name, groups, ours, images, noise, theirs_elbo, theirs_grads):
    """Prints how far our per-scene ELBO and every group's gradient (of our plain graph and
    of our XLA-compiled one) lie from the original's, ``theirs_grads`` keyed by the
    original's variable names; returns the ELBO's and the worst group's relative gaps."""
    ours_elbo = ours.elbo_graph(tf.constant(images), tf.constant(noise)).numpy()
    ours_grad, floor_grad = ({id(v): g.numpy() for v, g in zip(
        ours.model_variables, function(tf.constant(images), tf.constant(noise))[1],
        strict=True)} for function in (tf.function(ours.loss_and_gradients_graph,
                                                   jit_compile=False),
                                       tf.function(ours.loss_and_gradients_graph,
                                                   jit_compile=True)))
    elbo_rel = np.max(np.abs(ours_elbo - theirs_elbo)) / np.mean(np.abs(theirs_elbo))
    print(f'{name}: per-scene ELBO, original {np.mean(theirs_elbo):.3f} on average; '
          f'max |ours - original| / mean |original| = {elbo_rel:.2e}')
    # Per group, relative to the original's gradient norm: the distance of our plain graph
    # and of our XLA-compiled one to the original, and (the float32 rounding floor) of our
    # two paths to each other.
    summary = {}
    for label, sources, target, layout, _ in groups:
        plain = layout(*[ours_grad[id(s)] for s in sources])
        xla = layout(*[floor_grad[id(s)] for s in sources])
        ref = theirs_grads[target.name]
        sums = summary.get(label, np.zeros(4))
        summary[label] = sums + [np.sum((plain - ref) ** 2), np.sum((xla - ref) ** 2),
                                 np.sum((plain - xla) ** 2), np.sum(ref ** 2)]
    worst = 0.0
    for label, (plain, xla, floor, norm) in summary.items():
        rel = np.sqrt([plain, xla, floor]) / max(np.sqrt(norm), 1e-30)
        worst = max(worst, min(rel[0], rel[1]))
        print(f'  gradient {label:34s} |original| {np.sqrt(norm):9.3e}  relative diff: plain '
              f'{rel[0]:.2e}, XLA {rel[1]:.2e}  (plain vs XLA {rel[2]:.2e})')
    return elbo_rel, worst


def main(argv):
    del argv
    if not FLAGS.original or not os.path.exists(os.path.join(FLAGS.original, 'model.py')):
        sys.exit('error: pass --original=PATH, the src/ folder of a stelzner/supair checkout')
    original = import_original(os.path.abspath(FLAGS.original))
    rng = np.random.default_rng(FLAGS.seed)
    results = {}
    for name in FLAGS.datasets:
        train, _ = load_dataset(name.removesuffix('_nobg'), data_dir=FLAGS.data_dir,
                                mnist_dir=FLAGS.mnist_dir, seed=42)
        images = train.images[:FLAGS.batch]
        noise = rng.standard_normal([FLAGS.batch, 3, 4]).astype(np.float32)
        results[name] = check(name, original, images, noise)
    print('worst relative differences (ELBO; gradient group, the closer of our two paths):')
    for name, (elbo_rel, grad_rel) in results.items():
        print(f'  {name:18s} {elbo_rel:.2e}  {grad_rel:.2e}')


if __name__ == '__main__':
    app.run(main)
