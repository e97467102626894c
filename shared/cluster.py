"""One run over several processes or machines: tf.distribute's MultiWorkerMirroredStrategy.

Every worker runs the same command with ``--strategy=multi_worker`` and its own
``TF_CONFIG`` (the cluster's addresses and which task it is). Worker 0 (or the task
of type ``chief``, if the cluster names one) is the chief: it alone writes metrics,
TensorBoard, pictures and the SavedModel; every worker saves checkpoints, as
TensorFlow asks, the others into temporary folders that are removed at the end.
"""

import json
import os
import socket
import subprocess
import sys
from typing import NamedTuple

import tensorflow as tf

EXAMPLE = ('e.g. {"cluster": {"worker": ["host1:2222", "host2:2222"]}, '
           '"task": {"type": "worker", "index": 0}}')


class ClusterError(Exception):
    """TF_CONFIG missing or malformed, or a worker that cannot be reached; one line."""


class Task(NamedTuple):
    """This process's place in the cluster."""
    kind: str        # 'chief' or 'worker'
    index: int
    tasks: int       # processes in the cluster, the chief included
    is_chief: bool   # writes the run's files

    def __str__(self):
        return f'{self.kind} {self.index}'


def read_tf_config(text):
    """The Task that the ``TF_CONFIG`` text describes; ClusterError saying what is wrong."""
    if not text:
        raise ClusterError(f'--strategy=multi_worker needs TF_CONFIG set on every worker, '
                           f'{EXAMPLE}')
    try:
        spec = json.loads(text)
    except ValueError as e:
        raise ClusterError(f'TF_CONFIG is not valid JSON ({e}); {EXAMPLE}') from None
    cluster = spec.get('cluster') if isinstance(spec, dict) else None
    task = spec.get('task') if isinstance(spec, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise ClusterError(f'TF_CONFIG needs "cluster" and "task" objects; {EXAMPLE}')
    for kind, addresses in cluster.items():
        if kind not in ('chief', 'worker') or not isinstance(addresses, list) or not all(
                isinstance(a, str) and a.rpartition(':')[2].isdigit() for a in addresses):
            raise ClusterError(f'TF_CONFIG cluster entry "{kind}" must be "chief" or "worker" '
                               f'with a list of "host:port" addresses; {EXAMPLE}')
    if len(cluster.get('chief', [])) > 1:
        raise ClusterError('TF_CONFIG names more than one chief')
    kind, index = task.get('type'), task.get('index')
    if kind not in cluster or not isinstance(index, int) or not 0 <= index < len(cluster[kind]):
        sizes = {k: len(v) for k, v in cluster.items()}
        raise ClusterError(f'TF_CONFIG task {json.dumps(task)} is not in its cluster {sizes}')
    is_chief = kind == 'chief' or ('chief' not in cluster and index == 0)
    return Task(kind, index, sum(len(v) for v in cluster.values()), is_chief)


# The watchdog's process: waits for a line (or the end) on stdin; if none comes in time,
# prints the message and kills the process it watches.
_WATCHER = """
import os, select, signal, sys
ready, _, _ = select.select([sys.stdin], [], [], float(sys.argv[2]))
if not ready:
    sys.stderr.write('error: ' + sys.argv[3] + chr(10))
    os.kill(int(sys.argv[1]), signal.SIGKILL)
"""


class Watchdog:
    """Ends this process with one line if ``stop`` is not called within ``seconds``.

    Joining a cluster waits for every worker without a time limit of its own, and it
    waits inside TensorFlow without letting Python threads run: so the clock runs in
    a small process of its own, which goes away when stopped or when this one ends.
    """

    def __init__(self, seconds, message):
        self.seconds, self.message, self.watcher = seconds, message, None

    def start(self):
        """Starts the clock; returns the watchdog."""
        self.watcher = subprocess.Popen(
            [sys.executable, '-c', _WATCHER, str(os.getpid()), str(self.seconds),
             self.message], stdin=subprocess.PIPE)
        return self

    def stop(self):
        """Everything arrived in time."""
        if self.watcher:
            self.watcher.stdin.close()
            self.watcher.wait()
            self.watcher = None


def loopback_tf_configs(n):
    """TF_CONFIG values of an n-worker cluster on 127.0.0.1 (ports free now), one per
    worker: for trying multi-worker runs, tests and benchmarks on one machine."""
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(('127.0.0.1', 0))
    cluster = {'worker': [f'127.0.0.1:{s.getsockname()[1]}' for s in sockets]}
    for s in sockets:
        s.close()
    return [json.dumps({'cluster': cluster, 'task': {'type': 'worker', 'index': i}})
            for i in range(n)]


def multi_worker_strategy(timeout):
    """MultiWorkerMirroredStrategy for this process's TF_CONFIG (checked first).

    ``timeout`` (seconds) bounds every collective operation: a worker lost in the middle
    of a run makes the others stop with an error instead of waiting for ever.
    """
    read_tf_config(os.environ.get('TF_CONFIG', ''))
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
