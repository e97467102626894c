"""Writes an MNIST folder whose training files hold only the first N digits of another's
(IDX, gzip, header count N; the test files copied): for runs that ask whether the number
of training digits moves a seed's fate.

    python experiments/fewer_digits.py ../shared/mnist /root/mnist12k 12000
"""

import gzip
import os
import shutil
import struct
import sys


def main(source, target, n):
    """Copies the test files and the first n training digits and labels."""
    os.makedirs(target, exist_ok=True)
    for name in ('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'):
        shutil.copy(os.path.join(source, name), target)
    for name, header in (('train-images-idx3-ubyte.gz', '>IIII'),
                         ('train-labels-idx1-ubyte.gz', '>II')):
        with gzip.open(os.path.join(source, name)) as f:
            raw = f.read()
        size = struct.calcsize(header)
        magic, count, *shape = struct.unpack(header, raw[:size])
        if n > count:
            sys.exit(f'error: {name} holds {count} digits, fewer than {n}')
        item = 1
        for d in shape:
            item *= d
        with gzip.open(os.path.join(target, name), 'wb') as f:
            f.write(struct.pack(header, magic, n, *shape) + raw[size:size + n * item])


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
