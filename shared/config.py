"""What every model's config dataclass shares: field-checked copies and the scene shape."""

import dataclasses

# The most objects (N_max) a model is built for: every model unrolls its steps in the
# graph XLA compiles, whose compiling grows with them. First training call at N_max 3 / 10
# / 20 / 30 on 50x50 scenes, one thread beside two runs (2026-12-07): AIR 13 / 32 / 75 /
# 128 s, SuPAIR 15 / 25 / 41 s; at 50, AIR had not compiled after 200 s (issue 53).
MAX_STEPS = 20


class SceneConfig:
    """A mixin for a frozen dataclass with ``scene_height``, ``scene_width``, ``channels``."""

    def replace(self, **overrides):
        """A copy with some fields changed; unknown field names are refused."""
        unknown = set(overrides) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f'unknown config fields: {", ".join(sorted(unknown))}')
        return dataclasses.replace(self, **overrides)

    def check_steps(self):
        """Raises ValueError unless 1 <= steps <= MAX_STEPS."""
        if not 1 <= self.steps <= MAX_STEPS:
            raise ValueError(f'steps (N_max) must be within 1 and {MAX_STEPS}, got {self.steps}: '
                             'the compiled graph grows with it')

    @property
    def scene_shape(self):
        """``(H, W, C)`` of one scene."""
        return (self.scene_height, self.scene_width, self.channels)
