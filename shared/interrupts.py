"""Stops that never split a training step from its records.

SIGTERM (a scheduler's or ``kill``'s stop) and SIGINT (Ctrl-C, also in a background job
started ignoring it) end a run as Ctrl-C does, with a KeyboardInterrupt that the trainer
answers by saving a checkpoint. A stop that lands inside a ``whole()`` block (one training
step and everything logged for it) waits for the block's end, so a checkpoint never holds
a step whose batch ELBO, TensorBoard scalar or seconds were not recorded.
"""

import contextlib
import signal


class _State:
    deferring = False  # inside a whole() block
    pending = False    # a stop arrived there


def _stop(signum, frame):
    if _State.deferring:
        _State.pending = True
        return
    raise KeyboardInterrupt


def stop_like_ctrl_c():
    """Makes SIGTERM and SIGINT raise KeyboardInterrupt, outside ``whole()`` blocks at
    once, inside them at their end."""
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)


@contextlib.contextmanager
def whole():
    """A block that a stop does not cut: a stop arriving inside it is raised after it."""
    _State.deferring = True
    try:
        yield
    finally:
        _State.deferring = False
    if _State.pending:
        _State.pending = False
        raise KeyboardInterrupt
