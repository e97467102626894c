"""The networks of Pyro's AIR example, parameterised and initialised as PyTorch does:
a linear layer draws weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)); an LSTM
cell keeps two bias vectors (input and hidden) and draws every parameter from
U(-1/sqrt(units), 1/sqrt(units)). (The seed study of SuPAIR showed that initial values
decide a run's fate, so the distributions are mirrored, not approximated.)
"""

import numpy as np
import tensorflow as tf


def _uniform(rng, bound, shape, name):
    return tf.Variable(rng.uniform(-bound, bound, shape).astype(np.float32), name=name)


class Linear(tf.Module):
    """``x @ kernel + bias``; ``kernel [fan_in, fan_out]`` (PyTorch's weight, transposed)."""

    def __init__(self, fan_in, fan_out, rng, name=None):
        super().__init__(name=name)
        bound = 1.0 / np.sqrt(fan_in)
        self.kernel = _uniform(rng, bound, [fan_in, fan_out], 'kernel')
        self.bias = _uniform(rng, bound, [fan_out], 'bias')

    def __call__(self, x):
        """``[b, fan_in]`` -> ``[b, fan_out]``."""
        return tf.matmul(x, self.kernel) + self.bias


class MLP(tf.Module):
    """Linear layers with ReLU between them (none after the last): Pyro's ``MLP``."""

    def __init__(self, fan_in, sizes, rng, name=None):
        super().__init__(name=name)
        ins = [fan_in, *sizes[:-1]]
        self.layers = [Linear(i, o, rng, name=f'linear{k}')
                       for k, (i, o) in enumerate(zip(ins, sizes, strict=True))]

    def __call__(self, x):
        """``[b, fan_in]`` -> ``[b, sizes[-1]]``."""
        for layer in self.layers[:-1]:
            x = tf.nn.relu(layer(x))
        return self.layers[-1](x)


class LSTMCell(tf.Module):
    """PyTorch's LSTMCell: gates ``x W_i + b_i + h W_h + b_h`` split into input, forget,
    cell and output gates (in that order); ``c' = f c + i g``, ``h' = o tanh(c')``.

    The input projection is split in two, ``input_projection`` (done once per scene for
    the image, whose part of the input is the same at every step) and ``step``."""

    def __init__(self, fan_in, units, rng, name=None):
        super().__init__(name=name)
        bound = 1.0 / np.sqrt(units)
        self.input_kernel = _uniform(rng, bound, [fan_in, 4 * units], 'input_kernel')
        self.hidden_kernel = _uniform(rng, bound, [units, 4 * units], 'hidden_kernel')
        self.input_bias = _uniform(rng, bound, [4 * units], 'input_bias')
        self.hidden_bias = _uniform(rng, bound, [4 * units], 'hidden_bias')

    def input_projection(self, x, first=0):
        """``x`` times the input kernel's rows ``first ...`` (the inputs ``x`` holds)."""
        return tf.matmul(x, self.input_kernel[first:first + x.shape[-1]])

    def step(self, projected, h, c):
        """One step from the input's projection (all of it, summed); returns ``(h, c)``."""
        gates = projected + self.input_bias + tf.matmul(h, self.hidden_kernel) + self.hidden_bias
        i, f, g, o = tf.split(gates, 4, axis=-1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        return tf.sigmoid(o) * tf.tanh(c), c
