"""Our AIR (air_tf) against Pyro's AIR example, the paper's baseline, on the same inputs.

Both models get the same parameters (ours written into Pyro's modules), the same scenes
and the same latent samples (a Pyro messenger draws every z_pres, z_where and z_what of
Pyro's guide from our step noise, keeping z_where and z_what reparameterised), and Pyro's
TraceGraph_ELBO computes its surrogate from its own traces. Compared: per-scene
log p(x, z) and log q(z | x), the ELBO, and the gradient of every parameter group
(ours from ``Air.loss_and_gradients``, plain and XLA-compiled).

    pip install -r requirements-crosscheck.txt
    python crosscheck/pyro_air.py --pyro_air=PATH/examples/air --dataset=mnist \\
        --mnist_dir=../shared/mnist [--batch=64 --scenes=256 --seeds=0,1,2]

PATH is a checkout of ``pyro-ppl/pyro`` (never committed); its ``examples/air`` holds
``air.py``, ``modules.py`` and ``main.py`` (whose ``make_prior`` is read from its source,
without the script's other imports). Not run by CI.
"""

import ast
import os
import sys

import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from air_tf import PRESETS, Air  # noqa: E402
from datasets import load_dataset  # noqa: E402
from shared.runtime import configure  # noqa: E402

flags.DEFINE_string('pyro_air', None, 'folder of Pyro\'s AIR example (air.py, modules.py, '
                    'main.py)', required=True)
flags.DEFINE_string('dataset', 'mnist', 'data set of the scenes compared')
flags.DEFINE_string('mnist_dir', None, 'MNIST IDX files')
flags.DEFINE_string('data_dir', '~/.cache/supair', 'cache of built data sets')
flags.DEFINE_integer('batch', 64, 'scenes per batch')
flags.DEFINE_integer('scenes', 256, 'training scenes Pyro subsamples the batch from (its '
                     'log-densities scale by scenes / batch)')
flags.DEFINE_list('seeds', ['0', '1', '2'], 'parameter and noise seeds compared')
flags.DEFINE_integer('threads', 2, 'threads of each framework')
FLAGS = flags.FLAGS


def import_pyro_air(folder):
    """Pyro's ``AIR`` class and ``make_prior`` (its main.py imports visdom; only that
    function's source is run)."""
    sys.path.insert(0, folder)
    import air as pyro_air_module  # noqa: E402  (Pyro's example, from --pyro_air)
    with open(os.path.join(folder, 'main.py')) as f:
        tree = ast.parse(f.read())
    source = next(node for node in tree.body
                  if isinstance(node, ast.FunctionDef) and node.name == 'make_prior')
    scope = {}
    exec(compile(ast.Module([source], []), 'main.py', 'exec'), scope)  # noqa: S102
    return pyro_air_module.AIR, scope['make_prior']


def pyro_model(AIR, config):
    """Pyro's AIR with the recommended settings of the paper's runs."""
    return AIR(num_steps=config.steps, x_size=config.scene_height,
               window_size=config.window_size, z_what_size=config.z_what_size,
               rnn_hidden_size=config.rnn_hidden_size,
               encoder_net=list(config.encoder_hidden), decoder_net=list(config.decoder_hidden),
               predict_net=list(config.predict_hidden),
               bl_predict_net=list(config.baseline_hidden),
               decoder_output_bias=config.decoder_output_bias,
               decoder_output_use_sigmoid=True, scale_prior_mean=config.scale_prior_mean,
               scale_prior_sd=config.scale_prior_sd, pos_prior_mean=config.pos_prior_mean,
               pos_prior_sd=config.pos_prior_sd, likelihood_sd=config.likelihood_sd)


def linear_layers(module):
    """The nn.Linear layers of one of Pyro's MLP-holding modules, in order."""
    import torch
    return [m for m in module.modules() if isinstance(m, torch.nn.Linear)]


def parameter_pairs(ours, theirs):
    """``[(name, our variable, their parameter, transpose)]`` for every parameter."""
    pairs = []
    for name in ('rnn', 'bl_rnn'):
        cell, torch_cell = getattr(ours, name), getattr(theirs, name)
        pairs += [(f'{name}.weight_ih', cell.input_kernel, torch_cell.weight_ih, True),
                  (f'{name}.weight_hh', cell.hidden_kernel, torch_cell.weight_hh, True),
                  (f'{name}.bias_ih', cell.input_bias, torch_cell.bias_ih, False),
                  (f'{name}.bias_hh', cell.hidden_bias, torch_cell.bias_hh, False)]
    for name in ('encode', 'decode', 'predict', 'bl_predict'):
        for k, (layer, torch_layer) in enumerate(zip(getattr(ours, name).layers,
                                                     linear_layers(getattr(theirs, name)),
                                                     strict=True)):
            pairs += [(f'{name}.{k}.weight', layer.kernel, torch_layer.weight, True),
                      (f'{name}.{k}.bias', layer.bias, torch_layer.bias, False)]
    for name in ('h_init', 'c_init', 'bl_h_init', 'bl_c_init', 'z_where_init', 'z_what_init'):
        pairs.append((name, getattr(ours, name), getattr(theirs, name), False))
    return pairs


def copy_parameters(ours, theirs):
    """Writes our parameters into Pyro's modules."""
    import torch
    with torch.no_grad():
        for _, variable, param, transpose in parameter_pairs(ours, theirs):
            value = variable.numpy()
            param.copy_(torch.from_numpy(np.ascontiguousarray(value.T if transpose else value)))


def fixed_noise(uniform, normal):
    """A Pyro messenger that draws the guide's z_pres_t, z_where_t and z_what_t from our
    noise: ``u < p`` for z_pres, ``loc + scale * eps`` (still reparameterised) for the
    others; it keeps the data plate's subsample (the batch's indices) as ``subsample``."""
    import torch
    from pyro.poutine.messenger import Messenger
    from pyro.poutine.subsample_messenger import _Subsample

    uniform, normal = torch.from_numpy(uniform), torch.from_numpy(normal)

    class FixedNoise(Messenger):
        subsample = None

        def _pyro_post_sample(self, msg):
            if isinstance(msg['fn'], _Subsample):
                self.subsample = msg['value']

        def _pyro_sample(self, msg):
            kind, _, t = msg['name'].rpartition('_')
            if msg['is_observed'] or kind not in ('z_pres', 'z_where', 'z_what'):
                return
            t = int(t)
            base = msg['fn']
            while hasattr(base, 'base_dist'):
                base = base.base_dist
            if kind == 'z_pres':
                msg['value'] = (uniform[:, t:t + 1] < base.probs).float()
            elif kind == 'z_where':
                msg['value'] = base.loc + base.scale * normal[:, t, :3]
            else:
                msg['value'] = base.loc + base.scale * normal[:, t, 3:]

    return FixedNoise()


def pyro_step(theirs, make_prior, config, data, batch, noise):
    """Pyro's traces of one step at our noise: the batch's indices into ``data``, per-scene
    log p(x, z) and log q(z | x), the ELBO, and every parameter's gradient of the surrogate."""
    import pyro
    import torch
    from pyro.infer import TraceGraph_ELBO
    from pyro.infer.tracegraph_elbo import _compute_elbo

    pyro.clear_param_store()
    for p in theirs.parameters():
        p.grad = None
    prior = make_prior(config.z_pres_prior)
    noisy = fixed_noise(*noise)
    guide = noisy(theirs.guide)
    elbo = TraceGraph_ELBO()
    model_trace, guide_trace = elbo._get_trace(
        theirs.model, guide, (torch.from_numpy(data), batch), {'z_pres_prior_p': prior})
    _, surrogate = _compute_elbo(model_trace, guide_trace)
    surrogate.backward()

    def per_scene(trace):
        return sum(site['unscaled_log_prob'].detach().numpy().astype(np.float64)
                   for site in trace.nodes.values() if site['type'] == 'sample'
                   and 'unscaled_log_prob' in site)

    indices = noisy.subsample.numpy()
    return indices, per_scene(model_trace), per_scene(guide_trace)


def relative(a, b):
    """max |a - b| / max(|b|, tiny), elementwise maximum."""
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-30)))


def relative_l2(a, b):
    """||a - b|| / ||b||."""
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def check_seed(seed, AIR, make_prior, data, config):
    """Compares one seed's parameters and noise; prints and returns the worst figures."""
    import tensorflow as tf
    theirs = pyro_model(AIR, config)
    worst = {}
    for jit in (False, True):
        ours = Air(config, seed=seed, jit_compile=jit)
        copy_parameters(ours, theirs)
        noise = tuple(n.numpy() for n in ours.step_noise(FLAGS.batch, 0))
        indices, their_log_p, their_log_q = pyro_step(theirs, make_prior, config, data,
                                                      FLAGS.batch, noise)
        images = tf.constant(data[indices][..., None])
        terms = ours.elbo_terms(images, ours.guide(images, noise))
        _, grads = ours.loss_and_gradients(images, noise)
        grads = dict(zip([v.ref() for v in ours.model_variables], grads, strict=True))
        figures = {'log p(x, z)': relative(terms.log_p.numpy(), their_log_p),
                   'log q(z | x)': relative(terms.log_q.numpy(), their_log_q),
                   'ELBO': relative((terms.log_p - terms.log_q).numpy(),
                                    their_log_p - their_log_q)}
        for name, variable, param, transpose in parameter_pairs(ours, theirs):
            theirs_grad = param.grad.numpy()
            mine = grads[variable.ref()].numpy()
            figures[name] = relative_l2(mine.T if transpose else mine, theirs_grad)
        label = 'XLA' if jit else 'plain'
        present = [int(s.state.z_pres.numpy().sum()) for s in ours.guide(images, noise)]
        print(f'seed {seed} ({label}): {len(indices)} scenes, objects present at steps 1-3: '
              f'{present}')
        for name, value in figures.items():
            print(f'  {name:>22}: {value:.2e}')
            worst[name] = max(worst.get(name, 0.0), value)
    return worst


def main(argv):
    """Runs the check for every seed and prints the worst figure of each quantity."""
    del argv
    configure(FLAGS.threads)
    import torch
    torch.set_num_threads(FLAGS.threads)
    AIR, make_prior = import_pyro_air(FLAGS.pyro_air)
    train, _ = load_dataset(FLAGS.dataset, data_dir=os.path.expanduser(FLAGS.data_dir),
                            mnist_dir=FLAGS.mnist_dir)
    data = train.images[:FLAGS.scenes, ..., 0]
    config = PRESETS[FLAGS.dataset].replace(batch_size=FLAGS.batch, train_scenes=FLAGS.scenes)
    worst = {}
    for seed in (int(s) for s in FLAGS.seeds):
        for name, value in check_seed(seed, AIR, make_prior, data, config).items():
            worst[name] = max(worst.get(name, 0.0), value)
    densities = max(worst[k] for k in ('log p(x, z)', 'log q(z | x)', 'ELBO'))
    gradients = max(v for k, v in worst.items() if '.' in k or k.endswith('init'))
    print(f'worst over seeds {",".join(FLAGS.seeds)}: log-densities {densities:.2e} '
          f'relative (target 1e-4), gradients {gradients:.2e} relative L2 (target 1e-3)')


if __name__ == '__main__':
    app.run(main)
