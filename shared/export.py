"""A SavedModel of a trained model (SuPAIR or AIR) that needs none of this code to serve.

    model = tf.saved_model.load(export_dir)
    out = model.detect(images)   # images [n, H, W, C] float32 -> count, z_pres, z_where, boxes
                                 # (the paper's scenes: [n, 50, 50, 1]; `steps` boxes each)
    elbo = model.elbo(images)    # [n]
    recon = model.reconstruct(images)   # [n, H, W, C]: the model's rebuilt scenes (SuPAIR:
                                        # its SPNs' objects and background; AIR: the
                                        # decoded objects added up); SavedModels from
                                        # before it have no `reconstruct`
"""

import tensorflow as tf


def check_images(images, shape, label='SuPAIR'):
    """Stops, in the served graph, on images a trained model would answer wrongly: another
    shape than ``[n, H, W, C]`` (``shape = (H, W, C)``), NaN or inf, or values outside
    [0, 1] (uint8 scenes must be divided by 255 first). Each with a message that says
    which."""
    height, width, channels = shape
    expected = tf.constant([height, width, channels])
    shape = tf.shape(images)
    padded = tf.concat([shape, tf.zeros([4], tf.int32)], 0)  # any rank compares, no error
    right = tf.logical_and(tf.equal(tf.size(shape), 4),
                           tf.reduce_all(tf.equal(padded[1:4], expected)))
    check = tf.debugging.Assert(right, [f'{label}: images must have the shape '
                                        f'[n, {height}, {width}, {channels}]; got', shape],
                                summarize=8)
    with tf.control_dependencies([check]):  # before ensure_shape, whose error says less
        # Through a cond whose other branch has the right shape: the static shape of a
        # wrong input is forgotten, so no graph built around this function fails on it
        # before the check above has run and said what is wrong.
        images = tf.cond(right, lambda: tf.identity(images),
                         lambda: tf.zeros([0, height, width, channels], images.dtype))
        images = tf.ensure_shape(images, [None, height, width, channels])
    tf.debugging.assert_all_finite(images, f'{label}: images hold NaN or inf')
    low, high = tf.reduce_min(images), tf.reduce_max(images)
    tf.debugging.Assert(tf.logical_and(low >= 0.0, high <= 1.0), [
        f'{label}: images must be float32 in [0, 1] (uint8 scenes: divide by 255); '
        'got values from', low, 'to', high])
    return images


FLOAT_IMAGES = tf.TensorSpec(None, tf.float32, name='images')
# float64 (NumPy's default) is cast to float32 in the served graph; these are refused.
REFUSED_DTYPES = (tf.float16, tf.bfloat16, tf.uint8, tf.uint16, tf.int8, tf.int16, tf.int32,
                  tf.int64)


def refuse_dtype(images, label='SuPAIR'):
    """Stops with a message naming the dtype (uint8 scenes above all need dividing by 255)."""
    with tf.control_dependencies([tf.debugging.Assert(False, [
            f'{label}: images must be float32 in [0, 1]; got {images.dtype.name} '
            '(uint8 scenes: convert to float32 and divide by 255)'])]):
        return tf.zeros([0])


def serving_function(graph, shape, label='SuPAIR'):
    """``graph`` (a model's detect or elbo) behind the checks, as a tf.function with one
    concrete function per dtype, each of any shape: a wrong dtype or shape meets a message
    of ours rather than the loader's list of signatures."""
    def serve(images):
        if images.dtype in REFUSED_DTYPES:
            return refuse_dtype(images, label)
        return graph(check_images(tf.cast(images, tf.float32), shape, label))

    served = tf.function(serve)
    for dtype in (tf.float32, tf.float64, *REFUSED_DTYPES):
        served.get_concrete_function(tf.TensorSpec(None, dtype, name='images'))
    return served


class _Serving(tf.Module):
    def __init__(self, model):
        super().__init__(name='supair_serving')
        self.model = model
        shape = model.config.scene_shape
        self.detect = serving_function(model.detect_graph, shape, model.label)
        self.elbo = serving_function(model.elbo_graph, shape, model.label)
        self.reconstruct = serving_function(model.reconstruct_graph, shape, model.label)


def export_saved_model(model, export_dir):
    """Writes the SavedModel with the ``detect``, ``elbo`` and ``reconstruct`` signatures;
    returns its folder."""
    serving = _Serving(model)
    tf.saved_model.save(serving, export_dir, signatures={
        name: getattr(serving, name).get_concrete_function(FLOAT_IMAGES)
        for name in ('detect', 'elbo', 'reconstruct')})
    return export_dir
