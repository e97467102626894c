"""The models run.py trains: each kind's presets, class and flags (shared.model_kinds)."""

import air_tf
import supair_tf
from shared.model_kinds import KINDS, ModelKind, register


def supair_run_name(label, config):
    """runs/DATASET[_nobg][_pd]_seedK: the ablations named by what they leave out."""
    return (label + ('' if config.background_model else '_nobg')
            + ('_pd' if config.structure == 'poon_domingos' else ''))


register('supair', ModelKind(
    supair_tf.PRESETS, supair_tf.config.NPZ_DEFAULT, supair_tf.Supair,
    own_flags=('background_model', 'structure', 'lstm_units', 'overlap_rate', 'obj_var_range',
               'bg_var_range', 'patch_size', 'structure_seed', 'procedure', 'explore_floor',
               'explore_steps', 'overlap_warmup', 'explore_min_scale', 'explore_spread',
               'explore_gate', 'explore_gate_each', 'explore_gate_width', 'average_epochs',
               'inference_reads', 'residual_margin', 'residual_whole', 'residual_peak',
               'residual_peak_window', 'residual_peak_margin', 'max_aspect',
               'min_obj_scale'),
    # A folder trained with the authors' procedure (the presets' default before explore)
    # resumes with it; the explore settings and N_max: a folder keeps those it was made with.
    inherited=('steps', 'structure_seed', 'data_order', 'procedure', 'explore_floor',
               'explore_steps', 'overlap_warmup', 'explore_min_scale', 'explore_spread',
               'explore_gate', 'explore_gate_each', 'explore_gate_width',
               'average_epochs'),
    run_fields=lambda seed, train_scenes: {'structure_seed': seed},
    run_name=supair_run_name))

register('air', ModelKind(
    air_tf.PRESETS, air_tf.config.NPZ_DEFAULT, air_tf.Air,
    own_flags=('estimator', 'vimco_samples', 'relaxed_temperature', 'relaxed_anneal_steps',
               'air_background'),
    inherited=('steps',),   # N_max (--max_objects sets it for a new run)
    # AIR's loss scales by the training set's size (Pyro's example).
    run_fields=lambda seed, train_scenes: (
        {} if train_scenes is None else {'train_scenes': train_scenes}),
    run_name=lambda label, config: f'air_{label}'))

# DAIR: AIR (one package, one class) whose guide reads the error canvas.
register('dair', KINDS['air']._replace(
    presets=air_tf.config.DAIR_PRESETS, npz_default=air_tf.config.DAIR_NPZ_DEFAULT,
    run_name=lambda label, config: f'dair_{label}'))
