"""When a run evaluates and when it has converged."""


class Schedule:
    """Evaluations and the stopping rule of a run of ``steps_per_epoch`` steps an epoch.

    ``evals_per_epoch`` evaluations an epoch in the first ``frequent_epochs`` epochs (None:
    all), later ones at the epoch's end only; with ``stop_gain`` > 0, training stops once the
    test ELBO at an epoch's end gained less than that share of its size over the last
    ``stop_epochs`` epochs.
    """

    def __init__(self, steps_per_epoch, evals_per_epoch=4, frequent_epochs=None, stop_gain=0.0,
                 stop_epochs=5):
        self.steps_per_epoch = steps_per_epoch
        # Steps within an epoch after which to evaluate; the epoch's end is always one.
        self.eval_steps = {round(steps_per_epoch * j / evals_per_epoch)
                           for j in range(1, evals_per_epoch)} - {0, steps_per_epoch}
        self.frequent_epochs = frequent_epochs
        self.stop_gain, self.stop_epochs = stop_gain, stop_epochs

    def evaluates_within(self, epoch, within):
        """Whether step ``within`` of (0-based) ``epoch`` is an evaluation before its end."""
        early = self.frequent_epochs is None or epoch < self.frequent_epochs
        return early and within in self.eval_steps

    def evaluates(self, step):
        """Whether the run evaluates after ``step`` (an epoch's end, or one within)."""
        epoch, within = divmod(step, self.steps_per_epoch)
        return within == 0 or self.evaluates_within(epoch, within)

    def convergence(self, step, epoch_elbos):
        """A line saying why training stops at ``step``, or None: given the test ELBOs at
        the epochs' ends, ``{epoch: elbo}``."""
        if not self.stop_gain or step % self.steps_per_epoch:
            return None
        epoch = step // self.steps_per_epoch
        before = epoch_elbos.get(epoch - self.stop_epochs)
        if before is None or epoch not in epoch_elbos:
            return None
        gain = (epoch_elbos[epoch] - before) / abs(before)
        if gain >= self.stop_gain:
            return None
        return (f'converged: the test ELBO gained {100 * gain:.2f}% over epochs '
                f'{epoch - self.stop_epochs}-{epoch} (less than {100 * self.stop_gain:g}%); '
                f'stopping at epoch {epoch}')
