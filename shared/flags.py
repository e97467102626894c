"""Every command-line flag of run.py, in one place, and the run spec read from them once."""

import dataclasses

from absl import flags

from datasets import DATASETS
from datasets.core import NPZ_PREFIX
from shared.config import MAX_STEPS
from shared.model_kinds import KINDS

flags.DEFINE_string('model', 'supair', 'supair: SuPAIR (the paper\'s model); air: AIR '
                    '(Eslami et al. 2016) as the paper ran it, Pyro\'s example with its '
                    'recommended settings; dair: difference-AIR (the same paper), AIR whose '
                    'guide reads the error canvas')


def known_model(name):
    """--model names a kind of models.py (checked when the flags are parsed, once every
    kind is registered)."""
    if name not in KINDS:
        raise flags.ValidationError(f'must be one of {", ".join(KINDS)}')
    return True


flags.register_validator('model', known_model)
flags.DEFINE_string('dataset', 'sprites', f'data set: {", ".join(DATASETS)}, or npz:PATH for '
                    'your own scenes (images [N, H, W, C], optional counts and boxes; README)')
flags.register_validator('dataset', lambda name: name in DATASETS or name.startswith(NPZ_PREFIX),
                         f'must be one of {", ".join(DATASETS)}, or {NPZ_PREFIX}PATH')
flags.DEFINE_integer('max_objects', None, 'built-in data sets: up to this many objects per '
                     f'scene (paper: 2; at most {MAX_STEPS - 1}, a new run\'s N_max one more)',
                     lower_bound=1, upper_bound=MAX_STEPS - 1)
flags.DEFINE_integer('scene_size', None, 'built-in data sets: scenes of this many pixels '
                     'square (paper: 50)', lower_bound=32)
flags.DEFINE_list('scenes', None, 'built-in data sets: TRAIN,TEST scenes to build (paper: '
                  '60000,10000 for the MNIST sets, 40000,10000 for Sprites), for quick runs')
flags.DEFINE_list('train_counts', None, 'built-in data sets: training scenes hold only these '
                  'object counts, e.g. 0,1,2 (default: 0 to max_objects); test scenes hold '
                  'these and --heldout_counts (the AIR paper\'s generalisation tasks)')
flags.DEFINE_list('heldout_counts', None, 'with --train_counts: counts only the test scenes '
                  'hold, e.g. 3; their accuracy is metrics.csv\'s heldout_count_acc')
flags.DEFINE_integer('steps', None, 'N_max: objects the model can find per scene (paper: 3; '
                     f'at most {MAX_STEPS}: XLA compiles every step, AIR\'s 20 in about 75 s)',
                     lower_bound=1, upper_bound=MAX_STEPS)
flags.DEFINE_integer('patch_size', None, 'A: side of the object SPN\'s patch (paper: 28)',
                     lower_bound=4)
flags.DEFINE_enum('mode', 'train', ['train', 'eval', 'export', 'sample', 'serve'],
                  'train (then export), evaluate the latest checkpoint, only export it, '
                  'draw scenes sampled from it (RUN_DIR/pictures/samples.png), or serve its '
                  'SavedModel on a page to draw scenes on (--port)')
flags.DEFINE_integer('port', 8000, 'with --mode=serve: the page\'s port (0: any free one)',
                     lower_bound=0, upper_bound=65535)
flags.DEFINE_string('host', '127.0.0.1', 'with --mode=serve: the address to listen on (the '
                    'default: this machine only; 0.0.0.0 opens the page to the network)')
flags.DEFINE_integer('epochs', None, 'epochs to train (preset: 20)', lower_bound=0)
flags.DEFINE_integer('batch_size', None, 'scenes per batch (preset: 256)', lower_bound=1)
flags.DEFINE_float('learning_rate', None, 'Adam learning rate (preset: 1e-3)', lower_bound=0)
flags.DEFINE_integer('seed', 0, 'seed of initialisation, data order and sampling noise',
                     lower_bound=0)
flags.DEFINE_integer('data_seed', 42, 'seed of the generated data set (the reference used 42)',
                     lower_bound=0)
flags.DEFINE_integer('steps_per_epoch', None, 'cap on steps per epoch, for quick runs',
                     lower_bound=1)
flags.DEFINE_boolean('background_model', None,
                     'learn a background SPN (preset: yes); --nobackground_model is the '
                     'ablation with a fixed Normal(0, 0.35) background')
flags.DEFINE_enum('structure', None, ['random', 'poon_domingos'],
                  'SPN structure (preset: random)')
flags.DEFINE_integer('structure_seed', None, 'seed of the random SPN structures (default: '
                     '--seed, so that every run draws its own, as the authors\' runs did)',
                     lower_bound=0)
flags.DEFINE_enum('data_order', None, ['fixed', 'shuffled'], 'fixed: the stored order every '
                  'epoch (the authors\' code; preset of the paper\'s data sets); shuffled: a new '
                  'order each epoch from --seed (preset of npz:)')
flags.DEFINE_string('data_dir', '~/.cache/supair', 'where built data sets are cached')
flags.DEFINE_string('mnist_dir', None, 'folder of the MNIST IDX files '
                    '(default: $SUPAIR_MNIST_DIR, else DATA_DIR/mnist, else download)')
flags.DEFINE_string('run_dir', None, 'checkpoints, logs and pictures '
                    '(default: runs/DATASET[_nobg][_pd]_seedSEED); a run resumes from it')
flags.DEFINE_string('export_dir', None, 'SavedModel folder (default: RUN_DIR/saved_model)')
flags.DEFINE_enum('strategy', 'default', ['default', 'mirrored', 'multi_worker'],
                  'default: one device; mirrored: tf.distribute over all visible GPUs; '
                  'multi_worker: several processes or machines, from TF_CONFIG (README)')
flags.DEFINE_integer('worker_timeout', 300, 'with --strategy=multi_worker: seconds to wait '
                     'for all workers to join, and for any one collective step', lower_bound=1)
flags.DEFINE_integer('cpu_replicas', 0, 'with --strategy=mirrored and no GPU: split the CPU '
                     'into this many logical devices (for testing)', lower_bound=0)
flags.DEFINE_integer('test_scenes', None, 'evaluate on the first N test scenes only '
                     '(default: all)', lower_bound=1)
flags.DEFINE_boolean('download', True, 'download MNIST when its files are missing')
flags.DEFINE_integer('evals_per_epoch', 4, 'test evaluations per epoch (in the first '
                     '--frequent_eval_epochs epochs; later ones only at their end)',
                     lower_bound=1)
flags.DEFINE_integer('frequent_eval_epochs', 5, 'epochs evaluated --evals_per_epoch times; '
                     'the later epochs are evaluated once, at their end', lower_bound=0)
flags.DEFINE_float('stop_gain', 0.0, 'train until the test ELBO gains less than this share '
                   '(0.005: 0.5%) over --stop_epochs epochs, or --epochs; 0: all epochs',
                   lower_bound=0.0)
flags.DEFINE_integer('stop_epochs', 5, 'epochs over which --stop_gain is measured',
                     lower_bound=1)
flags.DEFINE_integer('checkpoint_seconds', 180, 'save a checkpoint at least this often',
                     lower_bound=1)
flags.DEFINE_boolean('jit_compile', True, 'compile the ELBO and its gradients with XLA '
                     '(--nojit_compile: plain TensorFlow graphs; same model, slower)')
flags.DEFINE_boolean('deterministic', False, 'deterministic TensorFlow ops: a run, also one '
                     'interrupted and resumed, gives the same numbers bit for bit (slower)')
flags.DEFINE_integer('threads', 0, 'TensorFlow threads per op (0: one per core)', lower_bound=0)
# Preset hyper-parameters (the paper's section 4 and the authors' experiment script); unset
# flags keep the data set's preset.
flags.DEFINE_float('min_obj_scale', None, 'SuPAIR: the narrowest box, as a share of the '
                   'patch width, that q proposes and samples draw (preset: 0.3, the paper\'s)',
                   lower_bound=0.01, upper_bound=0.9)
flags.DEFINE_float('max_aspect', None, 'SuPAIR: the tallest box, as height / width, that q '
                   'proposes and samples draw (preset: 1.25, the paper\'s)', lower_bound=0.75)
flags.DEFINE_integer('lstm_units', None, 'LSTM units of the inference net (preset: 256)',
                     lower_bound=1)
flags.DEFINE_float('overlap_rate', None, 'rate of the Gamma(1, rate) overlap penalty (120)')
flags.DEFINE_enum('procedure', None, ['paper', 'explore'], 'SuPAIR\'s training procedure: '
                  'paper (the authors\'); explore: q\'s presence probabilities kept at least '
                  'a floor that falls from --explore_floor to 0, and boxes at least '
                  '--explore_min_scale wide, over --explore_steps steps (preset: explore; paper '
                  'for sprites_rgb and npz:, and for a folder that recorded none)')
flags.DEFINE_enum('inference_reads', None, ['scene', 'residual', 'residual_stateless',
                                            'residual_presence'],
                  'SuPAIR: what the inference LSTM reads at each step: scene (the paper\'s); '
                  'residual: the scene less the boxes of the earlier steps (for counts never '
                  'seen in training); residual_stateless: that, with the LSTM state reset at '
                  'every step; residual_presence: the box from the carried state, its presence '
                  'from the reset one')
flags.DEFINE_boolean('residual_whole', None, 'with a residual --inference_reads: '
                     'each earlier box taken out whole, not weighted by its '
                     'z_pres (false)')
flags.DEFINE_boolean('residual_peak', None, 'with a residual --inference_reads: each box '
                     'centred on the window of the residual holding the most ink (a window of '
                     'the mean box size), q moving it by at most a quarter of the patch (false)')
flags.DEFINE_integer('residual_peak_window', None, 'with --residual_peak: the side in pixels '
                     'of the window whose ink places each box (0: the mean box width, 17 '
                     'on Multi-MNIST)', lower_bound=0)
flags.DEFINE_float('residual_peak_margin', None, 'with --residual_peak: pixels around each '
                   'earlier box, beyond --residual_margin, where no later peak is sought (0)',
                   lower_bound=0.0)
flags.DEFINE_float('residual_margin', None, 'with a residual --inference_reads: pixels around '
                   'each earlier box taken out too (0)', lower_bound=0.0)
flags.DEFINE_float('explore_floor', None, 'with --procedure=explore: the least z_pres at the '
                   'first step (0.3)', lower_bound=0.0, upper_bound=0.99)
flags.DEFINE_integer('explore_steps', None, 'with --procedure=explore: steps over which the '
                     'warm-ups fall to the paper\'s values (preset: 936, four epochs of the '
                     'MNIST sets; Grid-MNIST 1,872)',
                     lower_bound=0)
flags.DEFINE_integer('overlap_warmup', None, 'with --procedure=explore: steps over which '
                     'the overlap term\'s log(rate) per object rises from 0 to its value (0)',
                     lower_bound=0)
flags.DEFINE_float('explore_min_scale', None, 'with --procedure=explore: the least box '
                   'width (relative to the patch) at the first step, falling to the preset\'s '
                   '0.3 over --explore_steps (0.55; 0: 0.3 throughout)', lower_bound=0.0)
flags.DEFINE_float('explore_spread', None, 'with --procedure=explore: pixels added to the std '
                   'of q\'s position of the second and later boxes at the first step, falling to 0 '
                   'over --explore_steps (5)', lower_bound=0.0)
flags.DEFINE_float('explore_gate', None, 'with --procedure=explore: every warm-up\'s distance '
                   'from the paper\'s value is scaled by 1 - u / GATE (clipped to [0, 1]), u '
                   'the batch\'s mean z_pres of the first box, so that the warm-ups lift while '
                   'q uses that box (0: as scheduled)',
                   lower_bound=0.0, upper_bound=1.0)
flags.DEFINE_boolean('explore_gate_each', None, 'with --explore_gate: the presence floor of '
                     'each box is gated by that box\'s own mean z_pres, not the first box\'s '
                     '(False)')
flags.DEFINE_boolean('explore_gate_width', None, 'with --explore_gate: the least-width '
                     'warm-up (--explore_min_scale) is gated too, by the first box\'s mean '
                     'z_pres; --noexplore_gate_width: it falls over --explore_steps as '
                     'scheduled (True)')
flags.DEFINE_integer('average_epochs', None, 'with --procedure=explore: the model a run ends '
                     'with (evaluated and exported) is the mean of its weights at the ends of '
                     'its last this many epochs (0: its last weights)', lower_bound=0)
flags.DEFINE_enum('estimator', None, ['nvil', 'vimco', 'summed', 'relaxed'], 'AIR and DAIR: '
                  'how z_pres learns: nvil (Pyro\'s score function with learned baselines, the '
                  'paper\'s runs), vimco (the multi-sample bound of --vimco_samples guide '
                  'samples), summed (the count summed out exactly, no score function), '
                  'relaxed (a Binary Concrete z_pres, rounded at test time) (nvil)')
flags.DEFINE_boolean('air_background', None, 'AIR and DAIR: a background component (Kosior\'s '
                     'notes on AIR, section 7): a latent z_bg ~ N(0, I) proposed from the '
                     'guide\'s last LSTM state, decoded by an MLP into an image under the '
                     'objects (off: AIR as the paper ran it)')
flags.DEFINE_float('relaxed_temperature', None, 'with --estimator=relaxed: the Binary '
                   'Concrete temperature (1)', lower_bound=1e-6)
flags.DEFINE_integer('relaxed_anneal_steps', None, 'with --estimator=relaxed: the prior\'s '
                     'odds of an object fall tenfold every this many steps, from 1e4 to 1e-9 '
                     '(3000)', lower_bound=1)
flags.DEFINE_integer('vimco_samples', None, 'with --estimator=vimco: guide samples per scene '
                     '(5)', lower_bound=2)
flags.DEFINE_list('obj_var_range', None, 'object SPN leaf variance min,max (preset)')
flags.DEFINE_list('bg_var_range', None, 'background SPN leaf variance min,max (preset)')

flags.DEFINE_boolean('version', False, 'print the version and exit')

FLAGS = flags.FLAGS
# Flag name -> config field, for the preset overrides.
OVERRIDES = ('epochs', 'batch_size', 'learning_rate', 'background_model', 'structure',
             'lstm_units', 'overlap_rate', 'obj_var_range', 'bg_var_range', 'steps',
             'patch_size', 'structure_seed', 'data_order', 'procedure', 'explore_floor',
             'explore_steps', 'overlap_warmup', 'explore_min_scale',
             'explore_spread', 'explore_gate', 'explore_gate_each', 'explore_gate_width',
             'average_epochs', 'inference_reads', 'residual_margin', 'residual_whole',
             'residual_peak', 'residual_peak_window', 'residual_peak_margin', 'max_aspect',
             'min_obj_scale',
             'estimator', 'vimco_samples', 'relaxed_temperature', 'relaxed_anneal_steps',
             'air_background')


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """What the command line asks for, read from the flags once (read_run_spec); the code
    below the entry point takes this, never the flags. ``overrides``: the preset fields
    (OVERRIDES) the command line sets; ``flags_text``: all flags, for the run folder."""
    version: bool
    mode: str
    model: str
    dataset: str
    seed: int
    data_seed: int
    max_objects: int | None
    scene_size: int | None
    scenes: tuple | None
    train_counts: tuple | None
    heldout_counts: tuple | None
    steps_per_epoch: int | None
    data_dir: str
    mnist_dir: str | None
    download: bool
    run_dir: str | None
    export_dir: str | None
    test_scenes: int | None
    strategy: str
    worker_timeout: int
    cpu_replicas: int
    evals_per_epoch: int
    frequent_eval_epochs: int
    stop_gain: float
    stop_epochs: int
    checkpoint_seconds: int
    jit_compile: bool
    deterministic: bool
    threads: int
    port: int
    host: str
    overrides: dict
    flags_text: str


def read_run_spec(flag_values=FLAGS):
    """The RunSpec of parsed ``flag_values``."""
    derived = ('scenes', 'train_counts', 'heldout_counts', 'overrides', 'flags_text')
    values = {f.name: getattr(flag_values, f.name) for f in dataclasses.fields(RunSpec)
              if f.name not in derived}
    lists = {name: None if (value := getattr(flag_values, name)) is None else tuple(value)
             for name in ('scenes', 'train_counts', 'heldout_counts')}
    return RunSpec(**values, **lists,
                   # Lists (min,max ranges) as tuples: a copy, which a later change of the
                   # flag's own list cannot reach.
                   overrides={name: tuple(value) if isinstance(value, list) else value
                              for name in OVERRIDES
                              if (value := getattr(flag_values, name)) is not None},
                   flags_text=flag_values.flags_into_string())
