"""A SavedModel of a trained SuPAIR that needs none of this code to serve.

    model = tf.saved_model.load(export_dir)
    out = model.detect(images)   # images [n, 50, 50, 1] float32 -> count, z_pres, z_where, boxes
    elbo = model.elbo(images)    # [n]
"""

import tensorflow as tf


def check_images(images, size):
    """Stops, in the served graph, on images a trained model would answer wrongly: another
    shape than ``[n, size, size, 1]``, NaN or inf, or values outside [0, 1] (uint8 scenes
    must be divided by 255 first). Each with a message that says which."""
    expected = tf.constant([size, size, 1])
    shape = tf.shape(images)
    padded = tf.concat([shape, tf.zeros([4], tf.int32)], 0)  # any rank compares, no error
    right = tf.logical_and(tf.equal(tf.size(shape), 4),
                           tf.reduce_all(tf.equal(padded[1:4], expected)))
    check = tf.debugging.Assert(right, [f'SuPAIR: images must have the shape '
                                        f'[n, {size}, {size}, 1]; got', shape])
    with tf.control_dependencies([check]):  # before ensure_shape, whose error says less
        images = tf.ensure_shape(tf.identity(images), [None, size, size, 1])
    tf.debugging.assert_all_finite(images, 'SuPAIR: images hold NaN or inf')
    low, high = tf.reduce_min(images), tf.reduce_max(images)
    tf.debugging.Assert(tf.logical_and(low >= 0.0, high <= 1.0), [
        'SuPAIR: images must be float32 in [0, 1] (uint8 scenes: divide by 255); '
        'got values from', low, 'to', high])
    return images


class _Serving(tf.Module):
    def __init__(self, model):
        super().__init__(name='supair_serving')
        self.model = model
        # Any shape is accepted by the signature, so that check_images can name the wrong one.
        spec = tf.TensorSpec(None, tf.float32, name='images')
        size = model.config.scene_size
        self.detect = tf.function(lambda images: model.detect_graph(check_images(images, size)),
                                  input_signature=[spec])
        self.elbo = tf.function(lambda images: model.elbo_graph(check_images(images, size)),
                                input_signature=[spec])


def export_saved_model(model, export_dir):
    """Writes the SavedModel with the ``detect`` and ``elbo`` signatures; returns its folder."""
    serving = _Serving(model)
    tf.saved_model.save(serving, export_dir, signatures={
        'detect': serving.detect.get_concrete_function(),
        'elbo': serving.elbo.get_concrete_function()})
    return export_dir
