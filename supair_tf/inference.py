"""The inference network q(z_pres, z_where | x) (paper section 3.4).

An LSTM reads the flattened scene at each of the N_max steps (the same input each
step, the state carried over); an MLP maps its output to the 9 numbers of one step.
"""

import keras
import numpy as np
import tensorflow as tf


def _rows_of(draw, shape, first, last):
    """An initializer returning rows ``first:last`` of ``draw(shape)``, where ``draw`` is a
    Keras initializer object, which gives the same matrix at every call."""
    def initializer(shape_of_rows, dtype=None):
        return draw(shape, dtype)[first:last]
    return initializer


class RepeatedInputLSTM(keras.layers.Layer):
    """An LSTM fed the same input at every step.

    Because the input never changes, its projection ``x W`` is computed once and
    reused by every step: the same numbers as a plain LSTM cell at a third of the
    cost of its largest matmul (2500 x 1024 here).
    """

    def __init__(self, units, steps, **kwargs):
        super().__init__(**kwargs)
        self.units, self.steps = units, steps

    def build(self, input_shape):
        """Creates the kernels with TF1 BasicLSTMCell's initialisation."""
        features, width = input_shape[-1], 4 * self.units
        # TF1's BasicLSTMCell (the reference) keeps ONE kernel over [input, h], drawn in one
        # Glorot-uniform draw (fan-in features + units, fan-out 4 units): each weight takes
        # its rows of that one draw. (Keras 3 gives an unseeded initializer object one fixed
        # stateless seed, so the same object asked for two weights would give two copies.)
        draw, joint = keras.initializers.GlorotUniform(), (features + self.units, width)
        self.kernel = self.add_weight(name='kernel', shape=(features, width),
                                      initializer=_rows_of(draw, joint, 0, features))
        self.recurrent_kernel = self.add_weight(
            name='recurrent_kernel', shape=(self.units, width),
            initializer=_rows_of(draw, joint, features, features + self.units))
        # Forget-gate bias 1 at the start, as TF1's BasicLSTMCell added it.
        forget_one = np.zeros(width, np.float32)
        forget_one[self.units:2 * self.units] = 1.0
        self.bias = self.add_weight(name='bias', shape=(width,),
                                    initializer=keras.initializers.Constant(forget_one))

    def call(self, x):
        """``x: [batch, features]`` -> outputs ``[batch, steps, units]``."""
        projected = tf.matmul(x, self.kernel) + self.bias
        h = cell = tf.zeros([tf.shape(x)[0], self.units])
        outputs = []
        for _ in range(self.steps):
            h, cell = self.step(projected, h, cell)
            outputs.append(h)
        return tf.stack(outputs, axis=1)

    def step(self, projected, h, cell):
        """One step from the input's projection ``x W + b``: the new ``(h, cell)``."""
        gates = projected + tf.matmul(h, self.recurrent_kernel)
        i, f, g, o = tf.split(gates, 4, axis=-1)
        cell = tf.sigmoid(f) * cell + tf.sigmoid(i) * tf.tanh(g)
        return tf.sigmoid(o) * tf.tanh(cell), cell

    def get_config(self):
        """Units and steps."""
        return {**super().get_config(), 'units': self.units, 'steps': self.steps}


class InferenceNet(keras.layers.Layer):
    """Scene ``[batch, H, W, C]`` -> z_pres ``[b, steps]``, q(z_where) mean and std
    ``[b, steps, 4]``.

    z_where is ``(sx, sy, x, y)``: box width and height relative to the patch size
    A, and the box's top-left corner (x, y) in pixels, within 90% of the scene's width
    and height.
    """

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        bias = keras.initializers.Constant(0.1)
        self.lstm = RepeatedInputLSTM(config.lstm_units, config.steps)
        self.hidden = keras.layers.Dense(50, activation='sigmoid', bias_initializer=bias)
        self.head = keras.layers.Dense(9, bias_initializer=bias)

    def call(self, images, min_scale=None):
        """z_pres ``[b, steps]`` and the mean and std of q(z_where) ``[b, steps, 4]``;
        ``min_scale`` (a scalar, or a function of z_pres giving one) in place of the
        config's least box width, if given."""
        c = self.config
        flat = tf.reshape(images, [tf.shape(images)[0], int(np.prod(c.scene_shape))])
        if c.inference_reads != 'scene':
            return self.residual_pass(images, flat, min_scale)
        out = self.head(self.hidden(self.lstm(flat)))                      # [b, steps, 9]
        return self.step_parameters(out, min_scale)

    def step_parameters(self, out, min_scale):
        """The head's 9 numbers per step ``[b, k, 9]`` -> z_pres and q(z_where)'s mean and
        std (``min_scale`` as in call)."""
        c = self.config
        z_pres = tf.sigmoid(out[..., 0])
        m = tf.sigmoid(out[..., 1:5])
        least = c.min_obj_scale if min_scale is None else min_scale
        if callable(least):
            least = least(z_pres)
        sx = least + (c.max_obj_scale - least) * m[..., 0]
        aspect = c.min_aspect + (c.max_aspect - c.min_aspect) * m[..., 1]
        corner = m[..., 2:4] * tf.constant([0.9 * c.scene_width, 0.9 * c.scene_height])
        mean = tf.concat([tf.stack([sx, sx * aspect], -1), corner], -1)
        std = c.where_scale_max * tf.sigmoid(out[..., 5:9])
        return z_pres, mean, std

    def residual_pass(self, images, flat, min_scale):
        """``inference_reads='residual'``: step i's LSTM input is the scene with what the
        earlier steps explain taken out, each pixel kept with weight prod_{j<i} (1 - z_pres_j
        [pixel in box j]) at the boxes of q's means, each widened by ``residual_margin``
        pixels on every side (a constant to the gradient): SuPAIR's
        analogue of DAIR's error canvas (Eslami et al. 2016, section 3). q stays a function
        of the scene alone, so the ELBO and its sum over the count are unchanged.
        ``residual_whole``: each earlier box taken out whole (weight 0, not 1 - z_pres_j):
        step i's box enters eq. 9 only in the terms of n >= i, where boxes 1..i-1 all hold
        objects, so what it should see is the scene less all of them.
        ``'residual_stateless'``: every step starts from the LSTM's zero state, so that a
        step decides on an object from the residual alone; the state could otherwise learn
        from 0-2-object scenes that a third step never finds anything.
        ``residual_peak``: each box centred on the window of the residual (the mean box's
        width, or ``residual_peak_window`` pixels) that holds the most ink (peak_centres),
        the earlier boxes left out of that search with ``residual_peak_margin`` more pixels
        around them (what a tight box leaves of its object is not a new peak),
        q's position outputs moving it by at most A / 4: where to look next is then where
        most is left, whatever the count, not a position regressed from the whole scene
        (trained on 1 and 3 digits, that puts a box between two digits).
        ``'residual_presence'``: the box from the carried state as in 'residual', its
        presence from the zero state's reading of the same residual: whether something is
        left is then one function of what is left, the same at every step, and cannot learn
        from the trained counts which step is the last (each box still knows the earlier
        ones)."""
        c = self.config
        lstm = self.lstm
        if not lstm.built:  # its weights first, as the scene's pass makes them
            lstm.build(flat.shape)
        keep = tf.ones_like(images[..., 0])                                   # [b, H, W]
        searched = keep                                   # where the next peak may lie
        h = cell = tf.zeros([tf.shape(images)[0], lstm.units])
        steps = []
        fresh = c.inference_reads == 'residual_stateless'
        presence_alone = c.inference_reads == 'residual_presence'
        zero = tf.zeros_like(h)
        window = (c.residual_peak_window
                  or round(c.patch_size * (c.min_obj_scale + c.max_obj_scale) / 2))
        for i in range(c.steps):
            if fresh:
                h = cell = zero
            seen_image = images * keep[..., None]
            seen = tf.reshape(seen_image, tf.shape(flat))
            projected = tf.matmul(seen, lstm.kernel) + lstm.bias
            h, cell = lstm.step(projected, h, cell)
            out = self.head(self.hidden(h))[:, None]                           # [b, 1, 9]
            if presence_alone and i > 0:  # at step 0 the state is the zero state already
                alone = self.head(self.hidden(lstm.step(projected, zero, zero)[0]))[:, None]
                out = tf.concat([alone[..., :1], out[..., 1:]], axis=-1)
            z_pres, mean, std = self.step_parameters(out, min_scale)
            if c.residual_peak:
                mean = self.centred_on_peak(
                    mean, peak_centres(images * (keep * searched)[..., None], window))
            if callable(min_scale):  # gated by the first box's presence: this one
                min_scale = min_scale(z_pres)
            steps.append((z_pres, mean, std))
            taken = 1.0 if c.residual_whole else z_pres[:, :, None]
            keep *= tf.stop_gradient(1.0 - taken * box_mask(mean, c.residual_margin, c))
            if c.residual_peak_margin:
                wider = box_mask(mean, c.residual_margin + c.residual_peak_margin, c)
                searched *= tf.stop_gradient(1.0 - taken * wider)
        return tuple(tf.concat(parts, axis=1) for parts in zip(*steps, strict=True))

    def centred_on_peak(self, mean, centre):
        """``residual_peak``: q's box means ``[b, 1, 4]`` with each box centred on ``centre``
        ``[b, 2]`` (x, y in pixels), moved by an offset of at most a quarter of the patch
        that q's position outputs now give (their midpoint: no offset)."""
        c = self.config
        size = c.patch_size * mean[..., :2]                                   # [b, 1, 2]
        span = tf.constant([0.9 * c.scene_width, 0.9 * c.scene_height])
        offset = (mean[..., 2:4] / span - 0.5) * (c.patch_size / 2)          # +- A / 4
        return tf.concat([mean[..., :2], centre[:, None] - size / 2 + offset], -1)


def box_mask(mean, margin, config):
    """1 at the pixels (by their centres) inside the boxes ``mean [b, 1, 4]`` (sx, sy, x, y)
    widened by ``margin`` pixels on every side, else 0 ``[b, H, W]``."""
    rows = tf.range(config.scene_height, dtype=tf.float32)[None, :, None] + 0.5
    cols = tf.range(config.scene_width, dtype=tf.float32)[None, None, :] + 0.5
    sx, sy, x, y = (mean[:, 0, j, None, None] for j in range(4))
    a = config.patch_size
    return tf.cast((cols >= x - margin) & (cols < x + a * sx + margin)
                   & (rows >= y - margin) & (rows < y + a * sy + margin), tf.float32)


def peak_centres(images, window):
    """The centre (x, y) in pixels ``[b, 2]`` of the ``window`` x ``window`` square of
    ``images [b, H, W, C]`` that holds the most ink (summed over channels; the square's
    centre pixel, windows at the edges counting only the canvas; the first of equal
    ones in row-major order). No gradient: it is where q looks, not a parameter."""
    ink = tf.reduce_sum(tf.stop_gradient(images), axis=-1)                  # [b, H, W]
    sums = _window_sums(_window_sums(ink, window, axis=1), window, axis=2)
    width = tf.shape(sums)[2]
    best = tf.argmax(tf.reshape(sums, [tf.shape(sums)[0], -1]), axis=1, output_type=tf.int32)
    return tf.cast(tf.stack([best % width, best // width], -1), tf.float32) + 0.5


def _window_sums(x, window, axis):
    """Sums of ``window`` neighbours along ``axis`` of ``x [b, H, W]``, centred as a 'SAME'
    convolution (the canvas padded with zeros): differences of a running sum."""
    before = (window - 1) // 2
    pad = [[0, 0]] * 3
    pad[axis] = [before + 1, window - 1 - before]
    running = tf.cumsum(tf.pad(x, pad), axis=axis)
    size = tf.shape(x)[axis]
    ahead = tf.gather(running, tf.range(window, window + size), axis=axis)
    behind = tf.gather(running, tf.range(size), axis=axis)
    return ahead - behind
