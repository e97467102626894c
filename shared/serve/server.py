"""``python run.py --mode=serve --run_dir=RUN_DIR --port=N``: a local page to draw or drop a
scene on and watch the run's SavedModel count, place and rebuild it (the AIR paper's
real-time inference interface, sec. II). The Python standard library's HTTP server: one
person, one page, a few requests a second, nothing to install.

Routes: ``GET /`` the page; ``GET /api/info`` the model, its settings and learning curve;
``POST /api/infer`` a scene as raw uint8 bytes (H x W x C) -> count, z_pres, boxes,
reconstruction; ``POST /api/upload`` an image file -> the scene made of it and notes;
``GET /api/test_scene`` a random scene of the run's test set.
"""

import errno
import http.server
import json
import os
import sys

import numpy as np

from shared.serve.served_model import ServedModel, ServeError, TestScenes, to_bytes
from shared.serve.uploads import MAX_BYTES, BadUpload, scene_from_upload

PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'page.html')


class ServerError(Exception):
    """The server cannot start (run folder, port); one line says why."""


class RequestError(Exception):
    """A request the page answers with a message (HTTP 400 or 413); the server goes on."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def scene_of_bytes(data, shape):
    """A scene ``[H, W, C]`` in [0, 1] of raw uint8 ``data``, or RequestError."""
    expected = int(np.prod(shape))
    if len(data) != expected:
        size = ' x '.join(map(str, shape))
        raise RequestError(f'a scene of this model is {expected} bytes ({size} uint8); got '
                           f'{len(data)}')
    return np.frombuffer(data, np.uint8).reshape(shape).astype(np.float32) / 255.0


class Handler(http.server.BaseHTTPRequestHandler):
    """One request; ``server.model`` and ``server.scenes`` are the run's."""

    protocol_version = 'HTTP/1.1'
    # Headers and body go out in two writes: without this the second waits for the
    # browser's delayed ACK (40 ms on Linux) on every answer.
    disable_nagle_algorithm = True

    def do_GET(self):  # noqa: N802 (http.server's name)
        """Answers a GET (get_route)."""
        self.answer(self.get_route)

    def do_POST(self):  # noqa: N802
        """Answers a POST (post_route)."""
        self.answer(self.post_route)

    def get_route(self):
        """``(status, content type, body)`` of a GET, or RequestError."""
        model = self.server.model
        if self.path in ('/', '/index.html'):
            with open(PAGE, 'rb') as f:
                return 200, 'text/html; charset=utf-8', f.read()
        if self.path == '/api/info':
            return self.json({**model.info(), 'test_scenes': self.server.scenes.problem})
        if self.path == '/api/test_scene':
            try:
                scene, count, index = self.server.scenes.draw()
            except ServeError as e:
                raise RequestError(str(e)) from None
            return self.json({'pixels': to_bytes(scene).ravel().tolist(), 'count': count,
                              'index': index})
        raise RequestError(f'no page at {self.path}', status=404)

    def post_route(self):
        """``(status, content type, body)`` of a POST, or RequestError."""
        model = self.server.model
        body = self.body()
        if self.path == '/api/infer':
            return self.json(model.infer(scene_of_bytes(body, model.shape)))
        if self.path == '/api/upload':
            try:
                scene, notes = scene_from_upload(body, model.shape)
            except BadUpload as e:
                raise RequestError(str(e)) from None
            return self.json({'pixels': to_bytes(scene).ravel().tolist(), 'notes': notes})
        raise RequestError(f'no page at {self.path}', status=404)

    def body(self):
        """The request's body, refused (unread) above MAX_BYTES."""
        try:
            length = int(self.headers.get('Content-Length') or 0)
        except ValueError:
            raise RequestError('the request has no readable Content-Length') from None
        if length > MAX_BYTES:
            self.close_connection = True     # the unread body goes with the connection
            raise RequestError(f'the file is {length / 2**20:.0f} MB; the page takes up to '
                               f'{MAX_BYTES // 2**20} MB', status=413)
        return self.rfile.read(length)

    @staticmethod
    def json(value):
        """A JSON answer of ``value``."""
        return 200, 'application/json', json.dumps(value).encode()

    def answer(self, route):
        """Sends what ``route`` returns; a RequestError as its message, any other failure
        as a 500 with one line (printed on the console too)."""
        try:
            status, kind, content = route()
        except RequestError as e:
            status, kind, content = e.status, 'application/json', json.dumps(
                {'error': str(e)}).encode()
        except Exception as e:  # noqa: BLE001 (the server outlives any one request)
            print(f'serve: {self.command} {self.path} failed: {type(e).__name__}: {e}',
                  file=sys.stderr, flush=True)
            status, kind, content = 500, 'application/json', json.dumps(
                {'error': f'the model could not answer ({type(e).__name__}: {e})'}).encode()
        self.send_response(status)
        self.send_header('Content-Type', kind)
        self.send_header('Content-Length', str(len(content)))
        self.send_header('Cache-Control', 'no-store')
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        """Silent: a line per request would bury the address; failures print themselves."""


def make_server(run_dir, export_dir, host, port, data_dir, mnist_dir, download=True):
    """The HTTP server of a run's SavedModel, bound and warmed up (one inference done), or
    ServerError."""
    try:
        model = ServedModel(run_dir, export_dir)
    except ServeError as e:
        raise ServerError(str(e)) from None
    model.infer(np.zeros(model.shape, np.float32))   # traced before the first person waits
    try:
        server = http.server.ThreadingHTTPServer((host, port), Handler)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise ServerError(f'port {port} on {host} is in use; pick another with '
                              '--port') from None
        raise ServerError(f'cannot listen on {host}:{port} ({e.strerror})') from None
    server.daemon_threads = True
    server.model = model
    server.scenes = TestScenes(model.settings, data_dir, mnist_dir, download)
    return server


def serve_forever(server, run_dir):
    """Serves until Ctrl-C, having printed the address."""
    host, port = server.server_address[:2]
    height, width, channels = server.model.shape
    print(f'serving {run_dir} ({server.model.label}, scenes {height} x {width} x {channels}) '
          f'at http://{host}:{port}/  (Ctrl-C stops)', flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print('stopped', flush=True)
    finally:
        server.server_close()
