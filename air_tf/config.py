"""AIR's hyper-parameters: the settings the SuPAIR paper ran Pyro's AIR example with.

Pyro's ``examples/air/main.py`` with ``-n 200000 -blr 0.1 --z-pres-prior 0.01
--scale-prior-sd 0.2 --predict-net 200 --bl-predict-net 200 --decoder-output-use-sigmoid
--decoder-output-bias -2``, batch 64 (REFERENCE.md, last section).
"""

import dataclasses
import math

from shared.config import SceneConfig

DATA_ORDERS = ('fixed', 'shuffled')
# What the guide's LSTMs read at each step: 'image', the scene (AIR); 'error', the error
# canvas x^i - x, x^i the mean image of the objects of the earlier steps (DAIR, Eslami et
# al. 2016, section 3: difference-AIR).
GUIDE_INPUTS = ('image', 'error')
# How AIR learns z_pres (Kosior's notes on AIR, section 5): 'nvil', Pyro's score function
# with learned baselines (the paper's runs); 'vimco', the multi-sample bound over
# vimco_samples guide samples with leave-one-out learning signals (Mnih & Rezende 2016);
# 'summed', the count summed out exactly as SuPAIR's ELBO does (no score function);
# 'relaxed', z_pres a Binary Concrete sample (Maddison et al. 2017) scaling each object,
# its prior's odds annealed (aakhundov's TF AIR), everything reparameterised.
ESTIMATORS = ('nvil', 'vimco', 'summed', 'relaxed')


@dataclasses.dataclass(frozen=True)
class AirConfig(SceneConfig):
    """Every hyper-parameter of an AIR model and its training."""
    # Scene and objects
    scene_height: int = 50
    scene_width: int = 50
    channels: int = 1               # AIR's likelihood and decoder are grey
    window_size: int = 28           # the attention window, window_size^2 pixels
    steps: int = 3                  # at most this many objects
    z_what_size: int = 50
    # Networks: hidden sizes of Pyro's MLPs (() = a single linear layer)
    rnn_hidden_size: int = 256
    encoder_hidden: tuple = (200,)
    decoder_hidden: tuple = (200,)
    predict_hidden: tuple = (200,)
    baseline_hidden: tuple = (200,)  # Table 1 counts a 256-to-1 head: baseline_hidden=()
    decoder_output_bias: float = -2.0
    # Prior: a truncated geometric over the count built from z_pres_prior (Pyro's
    # make_prior), z_where = (scale, x, y) ~ Normal(scale_prior_mean, scale_prior_sd) x
    # Normal(pos_prior_mean, pos_prior_sd)^2, z_what ~ N(0, I); pixels Normal(x, sd)
    z_pres_prior: float = 0.01
    scale_prior_mean: float = 3.0
    scale_prior_sd: float = 0.2
    pos_prior_mean: float = 0.0
    pos_prior_sd: float = 1.0
    likelihood_sd: float = 0.3
    # Training: Adam at learning_rate, its baselines at baseline_learning_rate
    learning_rate: float = 1e-4
    baseline_learning_rate: float = 0.1
    batch_size: int = 64
    epochs: int = 214               # 214 x 937 steps of 64 Multi-MNIST scenes: Pyro's 200,000
    # Pyro draws each batch at random from the training set; 'shuffled' is the nearest
    data_order: str = 'shuffled'
    # Pyro's data plate scales every log-density by train_scenes / batch_size (run.py sets
    # it from the data set): the costs the baselines regress carry it, the scores do not.
    train_scenes: int = 60000
    guide_input: str = 'image'      # GUIDE_INPUTS: 'image' is AIR, 'error' DAIR
    # A background (Kosior's notes on AIR, section 7, eqs. 11-12): z_bg ~ N(0, I) of
    # background_size, q(z_bg) proposed from the guide's last LSTM state, decoded by an MLP
    # into an image the objects are added onto. False: AIR as the paper ran it.
    air_background: bool = False
    background_size: int = 10
    background_hidden: tuple = (200,)
    estimator: str = 'nvil'         # ESTIMATORS
    vimco_samples: int = 5          # estimator='vimco': guide samples per scene (K >= 2)
    relaxed_temperature: float = 1.0  # estimator='relaxed': the Binary Concrete temperature
    relaxed_prior_odds: tuple = (1e4, 1e-9)  # and its prior's odds of z_pres, from the first
    relaxed_anneal_steps: int = 3000  # to the second, divided by 10 every this many steps

    @property
    def data_scale(self):
        """Pyro's subsampling scale: training scenes per batch scene."""
        return self.train_scenes / self.batch_size

    def validate(self):
        """Returns self, or raises ValueError naming the first bad field."""
        if self.channels != 1:
            raise ValueError(f'AIR models grey scenes (channels 1), got {self.channels}')
        self.check_steps()
        for name in ('scene_height', 'scene_width', 'window_size', 'z_what_size',
                     'rnn_hidden_size', 'batch_size', 'train_scenes'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be positive, got {getattr(self, name)}')
        if not 0 < self.z_pres_prior <= 1:
            raise ValueError(f'z_pres_prior must be in (0, 1], got {self.z_pres_prior}')
        for name in ('learning_rate', 'baseline_learning_rate', 'scale_prior_sd',
                     'pos_prior_sd', 'likelihood_sd'):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f'{name} must be a positive number, got {value}')
        if self.data_order not in DATA_ORDERS:
            raise ValueError(f"data_order must be 'fixed' or 'shuffled', got {self.data_order!r}")
        if self.guide_input not in GUIDE_INPUTS:
            raise ValueError(f"guide_input must be 'image' or 'error', got {self.guide_input!r}")
        if self.estimator not in ESTIMATORS:
            raise ValueError(f'estimator must be one of {", ".join(ESTIMATORS)}, got '
                             f'{self.estimator!r}')
        start, end = self.relaxed_prior_odds
        if not (self.relaxed_temperature > 0 and 0 < end <= start
                and self.relaxed_anneal_steps >= 1):
            raise ValueError('relaxed_temperature must be positive, relaxed_prior_odds '
                             '(start, end) with 0 < end <= start, relaxed_anneal_steps >= 1; '
                             f'got {self.relaxed_temperature}, {self.relaxed_prior_odds}, '
                             f'{self.relaxed_anneal_steps}')
        if self.air_background and not 1 <= self.background_size <= 3 + self.z_what_size:
            raise ValueError('background_size must be in 1..3 + z_what_size, got '
                             f'{self.background_size}')
        if self.vimco_samples < 2:
            raise ValueError(f'vimco_samples must be at least 2, got {self.vimco_samples}')
        if self.epochs < 0:
            raise ValueError(f'epochs must be >= 0, got {self.epochs}')
        return self


_DEFAULT = AirConfig()
# The paper ran AIR with the same settings on every data set; 200,000 steps of 64 scenes
# are 214 epochs of the MNIST sets' 60,000 and 320 of Sprites' 40,000.
PRESETS = {
    'mnist': _DEFAULT,
    'sprites': _DEFAULT.replace(epochs=320, train_scenes=40000),
    'noisy_mnist': _DEFAULT,
    'grid_mnist': _DEFAULT,
}
NPZ_DEFAULT = _DEFAULT
# DAIR: AIR whose guide reads the error canvas, every other setting AIR's (the AIR paper
# trained both alike).
DAIR_PRESETS = {name: config.replace(guide_input='error') for name, config in PRESETS.items()}
DAIR_NPZ_DEFAULT = NPZ_DEFAULT.replace(guide_input='error')
