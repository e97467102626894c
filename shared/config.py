"""What every model's config dataclass shares: field-checked copies and the scene shape."""

import dataclasses


class SceneConfig:
    """A mixin for a frozen dataclass with ``scene_height``, ``scene_width``, ``channels``."""

    def replace(self, **overrides):
        """A copy with some fields changed; unknown field names are refused."""
        unknown = set(overrides) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f'unknown config fields: {", ".join(sorted(unknown))}')
        return dataclasses.replace(self, **overrides)

    @property
    def scene_shape(self):
        """``(H, W, C)`` of one scene."""
        return (self.scene_height, self.scene_width, self.channels)
