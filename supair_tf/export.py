"""A SavedModel of a trained SuPAIR that needs none of this code to serve.

    model = tf.saved_model.load(export_dir)
    out = model.detect(images)   # images [n, 50, 50, 1] float32 -> count, z_pres, z_where, boxes
    elbo = model.elbo(images)    # [n]
"""

import tensorflow as tf


class _Serving(tf.Module):
    def __init__(self, model):
        super().__init__(name='supair_serving')
        self.model = model
        spec = tf.TensorSpec([None, model.config.scene_size, model.config.scene_size, 1],
                             tf.float32, name='images')
        self.detect = tf.function(model._detect_graph, input_signature=[spec])
        self.elbo = tf.function(model._elbo_graph, input_signature=[spec])


def export_saved_model(model, export_dir):
    serving = _Serving(model)
    tf.saved_model.save(serving, export_dir, signatures={
        'detect': serving.detect.get_concrete_function(),
        'elbo': serving.elbo.get_concrete_function()})
    return export_dir
