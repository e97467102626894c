"""Where the compiled train step spends its time, operation by operation.

    [BENCH_THREADS=1] python benchmarks/profile_step.py [--steps=3] [--top=25]

Sprites preset, batch 256 of uniform random scenes, seed 0. Compiles the step, traces
``--steps`` calls with TensorFlow's profiler and sums the XLA thunks per step: matrix
products apart from the rest, the rest grouped by the kind of fusion, and the largest
operations with the TensorFlow op each came from (read from XLA's dump of the compiled
module). The figures are shares for choosing what to speed up; throughput is measured
by train_bench.py.
"""

import argparse
import collections
import glob
import os
import re
import shutil
import tempfile

DUMP = tempfile.mkdtemp(prefix='supair_hlo_')
os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                           f' --xla_dump_to={DUMP} --xla_dump_hlo_as_text').strip()

from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: E402

from common import np, tf  # noqa: E402 (XLA_FLAGS must be set before TensorFlow starts)
from supair_tf import PRESETS, Supair  # noqa: E402
from supair_tf.training import make_optimizer, make_train_step  # noqa: E402


def thunk_times(logdir, steps):
    """Milliseconds per step of every XLA thunk (by name) in the trace under ``logdir``."""
    path = sorted(glob.glob(os.path.join(logdir, '**', '*.xplane.pb'), recursive=True))[-1]
    space = xplane_pb2.XSpace()
    with open(path, 'rb') as f:
        space.ParseFromString(f.read())
    times = collections.Counter()
    for plane in space.planes:
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            if 'Eigen' not in line.name:  # XLA's thunks run on the intra-op threads
                continue
            for event in line.events:
                name = names.get(event.metadata_id, '?')
                if name != 'ThunkExecutor::Execute':
                    times[name] += event.duration_ps / 1e9 / steps
    return times


def origins():
    """XLA instruction name -> (shape, TensorFlow op name), from the optimised dumps."""
    found = {}
    pattern = re.compile(r'^\s*(?:ROOT )?%(\S+) = (\S+) .*?op_name="([^"]*)"')
    for path in glob.glob(os.path.join(DUMP, '*after_optimizations.txt')):
        with open(path) as f:
            for line in f:
                m = pattern.match(line)
                if m:
                    found.setdefault(m.group(1), (m.group(2), m.group(3)))
    return found


def kind(name):
    """'MatMul' for products, else the fusion's kind without its number."""
    if name.startswith('MatMul') or 'dot' in name or 'convolution' in name:
        return 'matrix products'
    return re.sub(r'[._]\d+$', '', name)


def part(op, kind_):
    """The model part a TensorFlow op name belongs to (its outermost scope, the backward
    pass counted with the forward), and whether it is a product."""
    scope = op.removeprefix('gradient_tape/').split('/')[0]
    scope = re.sub(r'_\d+$', '', scope) if '/' in op else 'other'
    return f'{scope}: {"products" if kind_ == "matrix products" else "the rest"}'


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=3)
    parser.add_argument('--top', type=int, default=25)
    args = parser.parse_args()
    images = tf.constant(np.random.default_rng(0).uniform(0, 1, (256, 50, 50, 1)), tf.float32)
    model = Supair(PRESETS['sprites'], seed=0)
    step = make_train_step(model, make_optimizer(model))
    for _ in range(3):
        float(step(images))
    logdir = tempfile.mkdtemp(prefix='supair_trace_')
    tf.profiler.experimental.start(logdir)
    for _ in range(args.steps):
        float(step(images))
    tf.profiler.experimental.stop()
    times = thunk_times(logdir, args.steps)
    where = origins()
    for folder in (logdir, DUMP):  # traces and dumps take tens of MB per run
        shutil.rmtree(folder, ignore_errors=True)
    total = sum(times.values())
    kinds, counts = collections.Counter(), collections.Counter()
    for name, ms in times.items():
        kinds[kind(name)] += ms
        counts[kind(name)] += 1
    print(f'XLA thunks: {total:.1f} ms per step (threads: {os.environ.get("BENCH_THREADS", 2)})')
    for name, ms in kinds.most_common(12):
        print(f'  {ms:7.1f} ms {100 * ms / total:5.1f}%  {counts[name]:3d} x {name}')
    parts = collections.Counter()
    for name, ms in times.items():
        parts[part(where.get(name, ('', '?'))[1], kind(name))] += ms
    print('by part of the model (forward and backward; products apart):')
    for name, ms in parts.most_common(16):
        print(f'  {ms:7.1f} ms {100 * ms / total:5.1f}%  {name}')
    print(f'largest {args.top} operations:')
    for name, ms in times.most_common(args.top):
        shape, op = where.get(name, ('?', '?'))
        print(f'  {ms:7.1f} ms  {name:32s} {shape:24s} {op}')


if __name__ == '__main__':
    main()
