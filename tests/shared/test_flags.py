"""The run spec: the flags read once, the only thing the code below run.py sees of them."""

import copy
import dataclasses
import os

import pytest
from absl import flags

from datasets import SplitCounts
from shared.flags import OVERRIDES, read_run_spec
from shared.model_kinds import KINDS
from shared.run_setup import UsageError, config_from_spec, run_settings, split_counts
from tests.runs import ROOT, python


def parsed(*argv):
    """run.py's flags parsed from ``argv``, in a copy (the global flags stay unparsed)."""
    values = copy.deepcopy(flags.FLAGS)
    values(['run.py', *argv])
    return values


def test_only_the_preset_fields_the_command_line_sets_override_the_preset():
    spec = read_run_spec(parsed('--dataset=mnist', '--epochs=3', '--obj_var_range=0.2,0.3',
                                '--seed=4'))
    assert spec.overrides == {'epochs': 3, 'obj_var_range': ('0.2', '0.3')}
    assert set(spec.overrides) <= set(OVERRIDES)
    config = config_from_spec(spec, (50, 50, 1))
    assert (config.epochs, config.obj_var_range) == (3, (0.2, 0.3))
    # what the flags leave unset comes from the Multi-MNIST preset, and the structures
    # follow the run's seed
    assert (config.batch_size, config.structure_seed, config.data_order) == (256, 4, 'fixed')
    assert spec.dataset == 'mnist' and spec.mode == 'train' and '--epochs=3' in spec.flags_text


def test_a_spec_is_a_snapshot_that_later_flag_changes_do_not_reach():
    values = parsed('--dataset=sprites', '--seed=2', '--obj_var_range=0.1,0.3')
    spec = read_run_spec(values)
    values.seed = 7
    values.obj_var_range[0] = '0.9'   # a list flag changed in place
    values.obj_var_range.append('1.0')
    assert spec.seed == 2
    assert tuple(spec.overrides['obj_var_range']) == ('0.1', '0.3')


def test_every_preset_flag_sets_a_field_of_each_model_or_is_named_as_one_models_own():
    """A flag one model's config lacks must be in that model's ``own_flags`` (so that giving
    it to the other model is refused in one line, not silently dropped or a traceback)."""
    for model, kind in KINDS.items():
        fields = {f.name for f in dataclasses.fields(next(iter(kind.presets.values())))}
        others = {name for m, k in KINDS.items() if m != model for name in k.own_flags}
        for name in OVERRIDES:
            assert name in fields or name in others, f'--{name} under --model={model}'
            assert name not in kind.own_flags or name in fields, f'--{name} of {model}'


def test_the_procedure_flags_reach_supairs_config():
    spec = read_run_spec(parsed('--dataset=noisy_mnist', '--procedure=explore',
                                '--explore_floor=0.2', '--explore_steps=300'))
    config = config_from_spec(spec, (50, 50, 1))
    assert (config.procedure, config.explore_floor, config.explore_steps) == \
        ('explore', 0.2, 300)


def test_more_objects_bring_one_step_more_and_a_folder_keeps_its_steps():
    def steps(*argv, stored=None):
        return config_from_spec(read_run_spec(parsed(*argv)), (128, 128, 1), stored).steps

    for model in ('supair', 'air'):
        assert steps(f'--model={model}', '--dataset=mnist') == 3
        assert steps(f'--model={model}', '--dataset=mnist', '--max_objects=9') == 10
        assert steps(f'--model={model}', '--dataset=mnist', '--max_objects=9',
                     '--steps=6') == 6
        # an existing run keeps its N_max: evaluated on more objects, or resumed
        folder = {'model': model, 'dataset': 'mnist', 'seed': 0, 'config': {'steps': 5}}
        assert steps(f'--model={model}', '--dataset=mnist', '--max_objects=9',
                     stored=folder) == 5


def test_explore_trains_the_paper_sets_and_a_folder_resumes_with_the_procedure_it_recorded():
    """Issue 39's decision: explore is the default of the four paper presets; colour Sprites
    and own scenes keep the authors' procedure; a run folder keeps its own, and one that
    recorded none (made before --procedure) meant the authors'."""
    def procedure(*argv, shape=(50, 50, 1), stored=None):
        return config_from_spec(read_run_spec(parsed(*argv)), shape, stored=stored).procedure

    for name in ('mnist', 'sprites', 'noisy_mnist', 'grid_mnist'):
        assert procedure(f'--dataset={name}') == 'explore'
    assert procedure('--dataset=sprites_rgb', shape=(50, 50, 3)) == 'paper'
    assert procedure('--dataset=npz:scenes.npz') == 'paper'
    folder = {'dataset': 'grid_mnist', 'seed': 0, 'config': {'procedure': 'paper'}}
    assert procedure('--dataset=grid_mnist', stored=folder) == 'paper'
    del folder['config']['procedure']
    assert procedure('--dataset=grid_mnist', stored=folder) == 'paper'
    # A flag given wins (and run.py then refuses it by name, tests/test_run.py).
    assert procedure('--dataset=grid_mnist', '--procedure=explore', stored=folder) == 'explore'


def test_shared_imports_no_model_package_and_a_registered_kind_is_one_model_flag_away():
    """shared/ sits below both models: importing all of it loads neither supair_tf nor
    air_tf. A kind registered from outside (as models.py registers SuPAIR and AIR) is then
    what --model names; an unregistered name is refused when the flags are parsed."""
    out = python(f"""
import glob, os, sys
for path in sorted(glob.glob({os.path.join(ROOT, 'shared', '*.py')!r})):
    __import__('shared.' + os.path.basename(path)[:-3])
print(sorted(m for m in sys.modules if m.split('.')[0] in ('supair_tf', 'air_tf')))
from absl import flags
from shared.flags import read_run_spec
from shared.model_kinds import KINDS, ModelKind, register
from shared.run_setup import default_run_dir
import supair_tf
register('other', ModelKind(supair_tf.PRESETS, supair_tf.config.NPZ_DEFAULT, None, (),
                            run_name=lambda label, config: 'other_' + label))
flags.FLAGS(['run.py', '--model=other', '--dataset=mnist', '--seed=3'])
spec = read_run_spec()
print(default_run_dir(spec, supair_tf.PRESETS['mnist']))
try:
    flags.FLAGS(['run.py', '--model=dair'])
except flags.IllegalFlagValueError as e:
    print(e)
""")
    lines = out.splitlines()
    assert lines[0] == '[]'
    assert lines[1] == os.path.join('runs', 'other_mnist_seed3')
    assert 'must be one of other' in lines[2]


def test_split_counts_come_from_the_flags_and_malformed_ones_are_one_line():
    spec = read_run_spec(parsed('--dataset=sprites', '--train_counts=0,1,3',
                                '--heldout_counts=2'))
    assert split_counts(spec) == SplitCounts((0, 1, 3), (2,))
    assert run_settings(spec, config_from_spec(spec, (50, 50, 1)))['heldout_counts'] == [2]
    assert split_counts(read_run_spec(parsed('--dataset=mnist'))) is None
    for argv, words in ((['--heldout_counts=2'], 'needs --train_counts'),
                        (['--train_counts=0,x'], 'take object counts'),
                        (['--dataset=npz:s.npz', '--train_counts=0'], 'built-in data sets')):
        with pytest.raises(UsageError, match=words):
            split_counts(read_run_spec(parsed(*argv)))


def test_airs_own_flags_reach_air_and_dair_and_are_refused_for_supair():
    for model in ('air', 'dair'):
        config = config_from_spec(read_run_spec(parsed(
            f'--model={model}', '--dataset=mnist', '--estimator=vimco', '--vimco_samples=3',
            '--air_background')), (50, 50, 1))
        assert (config.estimator, config.vimco_samples, config.air_background) == (
            'vimco', 3, True)
    with pytest.raises(UsageError, match='--estimator is a setting of --model=air'):
        config_from_spec(read_run_spec(parsed('--dataset=mnist', '--estimator=vimco')),
                         (50, 50, 1))
