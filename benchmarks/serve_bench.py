"""The page's round trip: one drawing change sent to ``run.py --mode=serve`` and its answer
(count, z_pres, boxes, reconstruction) back, against the SavedModel's own time for it.

    python benchmarks/serve_bench.py [--repeats=60]

A 50 x 50 model of each kind (the Multi-MNIST presets; untrained: the time does not depend
on the weights) exported as run.py exports it, served by the page's server in this process
on a free port, and asked over one kept-alive HTTP connection as the page asks: the raw
scene bytes of a drawing that gains a stroke segment each time. Prints the median and the
90th percentile of the round trip and of the model part alone (``ServedModel.infer``),
timed in turns. The issue's target: a round trip under 150 ms.
"""

import argparse  # noqa: I001  (common must come first: it puts the project on the path)
import dataclasses
import http.client
import json
import os
import tempfile
import threading
import time

from common import np

import models  # noqa: F401  (registers the kinds of model)
from air_tf import PRESETS as AIR_PRESETS
from air_tf import Air
from shared.serve.server import make_server
from shared.export import export_saved_model
from supair_tf import PRESETS, Supair


def drawings(n, shape, seed=0):
    """``n`` scenes of a drawing in progress: each adds a short bright segment."""
    rng = np.random.default_rng(seed)
    scene = np.zeros(shape, np.uint8)
    out = []
    for _ in range(n):
        y, x = rng.integers(2, shape[0] - 4), rng.integers(2, shape[1] - 4)
        scene[y:y + 3, x:x + 2] = 255
        out.append(scene.copy())
    return out


def served(kind, model, folder):
    """The page's server of ``model`` exported into ``folder`` as a run folder."""
    export_saved_model(model, os.path.join(folder, 'saved_model'))
    with open(os.path.join(folder, 'settings.json'), 'w') as f:
        json.dump({'model': kind, 'config': dataclasses.asdict(model.config)}, f)
    server = make_server(folder, os.path.join(folder, 'saved_model'), '127.0.0.1', 0,
                         folder, None, download=False)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def time_kind(kind, model, repeats):
    with tempfile.TemporaryDirectory() as folder:
        server = served(kind, model, folder)
        connection = http.client.HTTPConnection(*server.server_address[:2], timeout=60)
        scenes = drawings(repeats + 5, server.model.shape)
        trip, alone = [], []
        for i, scene in enumerate(scenes):
            start = time.perf_counter()
            connection.request('POST', '/api/infer', scene.tobytes(),
                               {'Content-Type': 'application/octet-stream'})
            answer = json.loads(connection.getresponse().read())
            middle = time.perf_counter()
            server.model.infer(scene.astype(np.float32) / 255.0)
            end = time.perf_counter()
            assert 'reconstruction' in answer, answer
            if i >= 5:   # the first few warm the connection and the caches
                trip.append(middle - start)
                alone.append(end - middle)
        server.shutdown()
        server.server_close()
    return {name: (1e3 * np.median(t), 1e3 * np.percentile(t, 90))
            for name, t in (('round trip', trip), ('model alone', alone))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=60)
    args = parser.parse_args()
    print(f'threads: {os.environ.get("BENCH_THREADS", 2)}; {args.repeats} drawing changes each')
    print('model    | part        | median ms | 90th pct ms')
    for kind, model in (('supair', Supair(PRESETS['mnist'])), ('air', Air(AIR_PRESETS['mnist']))):
        for part, (median, p90) in time_kind(kind, model, args.repeats).items():
            print(f'{kind:8s} | {part:11s} | {median:9.1f} | {p90:11.1f}')


if __name__ == '__main__':
    main()
