"""MNIST digits from IDX files (gzip or raw), offline first, download as a last resort."""

import gzip
import hashlib
import os
import shutil
import struct
import tempfile
import urllib.request
import zlib

import numpy as np

from datasets.errors import DatasetError

IMAGE_FILES = {'train': 'train-images-idx3-ubyte', 'test': 't10k-images-idx3-ubyte'}
# md5 of the official gzip files; checked only on files this code downloads itself.
OFFICIAL_MD5 = {
    'train-images-idx3-ubyte.gz': 'f68b3c2dcbeaaa9fbdd348bbdeb94873',
    't10k-images-idx3-ubyte.gz': '9fb629c4189551a2d022fa330f9573f3',
}
MIRRORS = ('https://storage.googleapis.com/cvdf-datasets/mnist/',
           'https://ossci-datasets.s3.amazonaws.com/mnist/')
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: '>i2', 0x0C: '>i4', 0x0D: '>f4', 0x0E: '>f8'}


def _idx_bytes(path, size=-1):
    """The first ``size`` bytes (all: -1) of an IDX file, ``.gz`` or raw, checked to begin
    with an IDX magic number; DatasetError if unreadable or not IDX."""
    try:
        opener = gzip.open if path.endswith('.gz') else open
        with opener(path, 'rb') as f:
            data = f.read(size)
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetError(f'{path} is corrupt ({e}); delete it and put a good copy '
                           'there') from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise DatasetError(f'{path} is not an IDX file (bad magic number); replace '
                           f'{os.path.basename(path)}')
    return data


def read_idx(path):
    """Reads one IDX file (``.gz`` or raw) into a numpy array; DatasetError if damaged."""
    name = os.path.basename(path)
    data = _idx_bytes(path)
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f'{path} is truncated inside its header; replace {name}')
    shape = struct.unpack(f'>{ndim}I', data[4:header])
    dtype = np.dtype(_DTYPES[data[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise DatasetError(f'{path} holds {len(data)} bytes but its header promises {expected}: '
                           f'the file is truncated or damaged; replace {name}')
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder('='))


def idx_count(path):
    """The number of items an IDX file's header declares (its first dimension), read from
    the header alone."""
    data = _idx_bytes(path, 8)
    if len(data) < 8 or data[3] < 1:  # no first dimension to read
        raise DatasetError(f'{path} is truncated inside its header or holds no items; '
                           f'replace {os.path.basename(path)}')
    return struct.unpack('>I', data[4:8])[0]


def md5sum(path):
    """Hex md5 of a file's bytes."""
    digest = hashlib.md5()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def verify_md5(path, expected):
    """Raises DatasetError unless the file has the expected md5."""
    actual = md5sum(path)
    if actual != expected:
        raise DatasetError(f'{path} has md5 {actual}, expected {expected}: the download is '
                           'damaged; delete it and try again')


def _find(mnist_dir, base):
    for candidate in (base + '.gz', base):
        path = os.path.join(mnist_dir, candidate)
        if os.path.exists(path):
            return path
    return None


def _download(mnist_dir, filename):
    """Fetches ``filename`` from the first mirror that serves it with the official md5;
    returns ``(path, None)``, or ``(None, why)`` naming what each mirror did."""
    os.makedirs(mnist_dir, exist_ok=True)
    failures = []
    for mirror in MIRRORS:
        fd, tmp = tempfile.mkstemp(dir=mnist_dir, suffix='.part')
        try:
            with urllib.request.urlopen(mirror + filename, timeout=30) as r, \
                    os.fdopen(fd, 'wb') as f:
                shutil.copyfileobj(r, f)
            actual = md5sum(tmp)
            if actual != OFFICIAL_MD5[filename]:
                failures.append(f'{mirror} served md5 {actual}, not the official '
                                f'{OFFICIAL_MD5[filename]}')
                continue
            os.replace(tmp, os.path.join(mnist_dir, filename))
            return os.path.join(mnist_dir, filename), None
        except OSError as e:
            failures.append(f'{mirror} unreachable ({getattr(e, "reason", None) or e})')
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    return None, '; '.join(failures)


def mnist_image_paths(mnist_dir, download=True):
    """``{'train': path, 'test': path}`` of the digit files, downloading what is missing."""
    mnist_dir = os.path.expanduser(mnist_dir)
    if os.path.isfile(mnist_dir):
        raise DatasetError(f'--mnist_dir={mnist_dir} is a file; pass the folder that holds the '
                           'MNIST IDX files')
    paths = {}
    for split, base in IMAGE_FILES.items():
        path, failures = _find(mnist_dir, base), None
        if path is None and download:
            path, failures = _download(mnist_dir, base + '.gz')
        if path is None:
            wanted = ', '.join(f + '.gz' for f in IMAGE_FILES.values())
            why = (f'could not be downloaded ({failures})' if download
                   else 'downloading is off (--nodownload)')
            raise DatasetError(f'MNIST file {base}(.gz) not found in {mnist_dir} and {why}: '
                               f'put {wanted} there (or pass --mnist_dir)')
        paths[split] = path
    return paths


def load_mnist_digits(path):
    """The ``[n, 28, 28]`` uint8 digits of one IDX image file."""
    digits = read_idx(path)
    if digits.ndim != 3 or digits.shape[1:] != (28, 28) or digits.dtype != np.uint8:
        raise DatasetError(f'{path} holds {digits.dtype} data of shape {digits.shape}, not '
                           '28x28 uint8 digits; replace it')
    return digits
