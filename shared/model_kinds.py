"""The kinds of model run.py can make, as a table filled where the product is composed
(``models.py`` beside run.py): shared/ never imports a model package, and a new kind (an
AIR variant, say) joins by registering there."""

import dataclasses
from collections.abc import Callable
from typing import NamedTuple


class ModelKind(NamedTuple):
    """What run.py needs to make one kind of model."""

    presets: dict        # data set -> config (the paper's settings)
    npz_default: object  # the config of a user's own scenes (a dataclass with .replace)
    build: type          # build(config, seed=, jit_compile=) -> a model (shared.interface)
    own_flags: tuple     # flags that set this kind's config and no other's
    # Config fields whose unset flags keep a resumed run folder's recorded values (so an
    # older folder resumes as it was made when a default changes).
    inherited: tuple = ()
    # (seed, training scenes or None) -> the config fields the run sets from them.
    run_fields: Callable = lambda seed, train_scenes: {}
    # (data set label, config) -> the default run folder's name, before '_seedK'.
    run_name: Callable = lambda label, config: label

    def config_defaults(self):
        """``{field: default}`` of the kind's config, as settings.json records them: what a
        folder written before a field existed meant by leaving it out."""
        return {f.name: list(f.default) if isinstance(f.default, tuple) else f.default
                for f in dataclasses.fields(self.npz_default)}


KINDS = {}


def register(name, kind):
    """Makes ``--model=name`` build ``kind``."""
    KINDS[name] = kind
