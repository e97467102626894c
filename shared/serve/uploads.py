"""A picture a person drops on the page, made a scene the model takes: decoded by Pillow,
refused in one sentence when it is not an image or too large, else converted to the
model's channels and resized to its scene size, with a note of each change made."""

import io

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_BYTES = 32 * 2**20    # a request body larger than this is refused unread
MAX_PIXELS = 25_000_000   # and an image with more pixels than this undecoded


class BadUpload(ValueError):
    """A file the page cannot make a scene of; the message says why."""


def scene_from_upload(data, shape):
    """``(scene [H, W, C] float32 in [0, 1], notes)`` of the image file bytes ``data`` for a
    model of scene ``shape`` (H, W, C): notes name every conversion (channels, size)."""
    height, width, channels = shape
    if not data:
        raise BadUpload('the file is empty')
    try:
        image = Image.open(io.BytesIO(data))   # reads the header only
    except (UnidentifiedImageError, OSError):
        raise BadUpload(f'not an image Pillow can read ({len(data):,} bytes); drop a PNG or '
                        'JPEG') from None
    w, h = image.size
    if w * h > MAX_PIXELS:
        raise BadUpload(f'the image is {w} x {h} pixels ({w * h / 1e6:.1f} megapixels), more '
                        f'than the page takes ({MAX_PIXELS / 1e6:.0f}); scale it down first')
    try:
        image.load()
    except (OSError, Image.DecompressionBombError) as e:
        raise BadUpload(f'the image does not decode ({e})') from None
    notes = []
    image = flatten_alpha(image, notes)
    wanted = 'L' if channels == 1 else 'RGB'
    if image.mode != wanted:
        grey = image.mode in ('1', 'L', 'I', 'I;16', 'F')
        notes.append(f'converted from {"grey" if grey else "colour"} ({image.mode}) to '
                     f'{"grey" if channels == 1 else "colour (RGB)"}')
        image = to_mode(image, wanted)
    if (w, h) != (width, height):
        notes.append(f'resized from {w} x {h} to {width} x {height} pixels'
                     + ('' if w * height == h * width else ' (aspect ratio not kept)'))
        image = image.resize((width, height), Image.BILINEAR)
    pixels = np.asarray(image, np.float32) / 255.0
    return pixels.reshape(height, width, channels), notes


def flatten_alpha(image, notes):
    """An image with transparency laid on black (the scenes' background), noted."""
    if image.mode in ('RGBA', 'LA', 'PA') or (image.mode == 'P' and 'transparency' in image.info):
        notes.append('transparent parts laid on black')
        rgba = image.convert('RGBA')
        black = Image.new('RGBA', rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(black, rgba).convert('RGB')
    return image


def to_mode(image, mode):
    """``image`` in Pillow mode ``mode`` ('L' or 'RGB'); 16-bit and float grey scaled to
    8 bits first."""
    if image.mode in ('I', 'I;16', 'F'):
        values = np.asarray(image, np.float64)
        top = values.max() or 1.0
        image = Image.fromarray(np.round(values / top * 255.0).astype(np.uint8), 'L')
    return image.convert(mode)
