"""A SavedModel of a trained SuPAIR that needs none of this code to serve.

    model = tf.saved_model.load(export_dir)
    out = model.detect(images)   # images [n, 50, 50, 1] float32 -> count, z_pres, z_where, boxes
    elbo = model.elbo(images)    # [n]
"""

import tensorflow as tf


def check_images(images):
    """Stops, in the served graph, on images a trained model would answer wrongly: NaN
    or inf, or values outside [0, 1] (uint8 scenes must be divided by 255 first)."""
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
        spec = tf.TensorSpec([None, model.config.scene_size, model.config.scene_size, 1],
                             tf.float32, name='images')
        self.detect = tf.function(lambda images: model.detect_graph(check_images(images)),
                                  input_signature=[spec])
        self.elbo = tf.function(lambda images: model.elbo_graph(check_images(images)),
                                input_signature=[spec])


def export_saved_model(model, export_dir):
    """Writes the SavedModel with the ``detect`` and ``elbo`` signatures; returns its folder."""
    serving = _Serving(model)
    tf.saved_model.save(serving, export_dir, signatures={
        'detect': serving.detect.get_concrete_function(),
        'elbo': serving.elbo.get_concrete_function()})
    return export_dir
