"""``run.py --mode=serve``: the page's server answers as the SavedModel does, refuses bad
pictures in one sentence and keeps serving; and, in a real browser (Debian's Chromium driven
by Playwright), what the page shows for a drawing equals the SavedModel's ``detect`` of the
pixels the page sent."""

import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from shared.serve.server import make_server
from shared.serve.uploads import BadUpload, scene_from_upload
from tests.runs import ENV, ROOT, run_py

CHROMIUM = '/usr/bin/chromium'


def png_bytes(array, mode=None):
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, 'PNG')
    return buffer.getvalue()


def test_an_upload_becomes_a_scene_of_the_models_shape_and_says_what_was_changed():
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 256, [60, 80, 3], dtype=np.uint8)
    scene, notes = scene_from_upload(png_bytes(colour), (50, 50, 1))
    expected = np.asarray(Image.fromarray(colour).convert('L').resize((50, 50),
                                                                      Image.BILINEAR))
    assert scene.shape == (50, 50, 1) and scene.dtype == np.float32
    np.testing.assert_array_equal(np.round(scene[..., 0] * 255).astype(np.uint8), expected)
    assert notes == ['converted from colour (RGB) to grey',
                     'resized from 80 x 60 to 50 x 50 pixels (aspect ratio not kept)']
    grey = rng.integers(0, 256, [50, 50], dtype=np.uint8)
    same, notes = scene_from_upload(png_bytes(grey), (50, 50, 1))
    np.testing.assert_array_equal(same[..., 0], grey / np.float32(255.0))
    assert notes == []
    rgb, notes = scene_from_upload(png_bytes(grey), (50, 50, 3))
    assert rgb.shape == (50, 50, 3) and notes == ['converted from grey (L) to colour (RGB)']


@pytest.mark.parametrize('data, message', [
    (b'', 'the file is empty'),
    (b'%PDF-1.4 not a picture', 'not an image Pillow can read (22 bytes)'),
])
def test_what_is_not_a_picture_is_refused_in_one_sentence(data, message):
    with pytest.raises(BadUpload, match=message.replace('(', r'\(').replace(')', r'\)')):
        scene_from_upload(data, (50, 50, 1))


def test_a_fifty_megapixel_picture_is_refused_before_it_is_decoded():
    big = png_bytes(np.zeros([7072, 7072], np.uint8))   # 50.0 megapixels, a small file
    with pytest.raises(BadUpload, match=r'7072 x 7072 pixels \(50\.0 megapixels\)'):
        scene_from_upload(big, (50, 50, 1))


@pytest.fixture(scope='module')
def server(trained_run, small_sprites):
    """The page's server on the trained run, in this process, on a free port."""
    served = make_server(trained_run[0], os.path.join(trained_run[0], 'saved_model'),
                         '127.0.0.1', 0, small_sprites, None, download=False)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield served
    served.shutdown()
    served.server_close()


def request(server, path, data=None, headers=None):
    """``(status, JSON body)`` of one request to ``server``."""
    host, port = server.server_address[:2]
    req = urllib.request.Request(f'http://{host}:{port}{path}', data=data,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def test_the_server_answers_as_the_saved_models_detect_and_reconstruct(server, trained_run):
    model = tf.saved_model.load(os.path.join(trained_run[0], 'saved_model'))
    scene = np.zeros([50, 50, 1], np.uint8)
    scene[8:22, 10:13] = 255
    scene[30:44, 33:42] = 180
    status, answer = request(server, '/api/infer', scene.tobytes())
    assert status == 200
    images = tf.constant(scene[None] / np.float32(255.0))
    expected = model.detect(images)
    assert answer['count'] == int(expected['count'][0])
    np.testing.assert_allclose(answer['z_pres'], expected['z_pres'][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(answer['boxes'], expected['boxes'][0], rtol=1e-5, atol=1e-4)
    recon = np.round(np.clip(model.reconstruct(images)[0].numpy(), 0, 1) * 255)
    np.testing.assert_array_equal(answer['reconstruction'], recon.ravel())
    status, info = request(server, '/api/info')
    assert (status, info['model'], info['shape'], info['missing']) == (
        200, 'SuPAIR', [50, 50, 1], [])
    assert info['curve']['step'] and len(info['curve']['step']) == len(
        info['curve']['test_count_acc'])


def test_bad_requests_are_answered_with_a_message_and_the_server_goes_on(server):
    big = png_bytes(np.zeros([7072, 7072], np.uint8))
    for path, data, status, message in (
            ('/api/upload', b'hello', 400, 'not an image Pillow can read'),
            ('/api/upload', big, 400, '50.0 megapixels'),
            ('/api/infer', b'\x00' * 7, 400, 'a scene of this model is 2500 bytes'),
            ('/api/nothing', b'', 404, 'no page at /api/nothing')):
        code, answer = request(server, path, data)
        assert code == status and message in answer['error'], answer
    code, answer = request(server, '/api/upload', b'x', {'Content-Length': str(64 * 2**20)})
    assert code == 413 and '64 MB' in answer['error']
    assert request(server, '/api/info')[0] == 200


def test_a_saved_model_from_before_reconstruct_still_serves_counts_and_boxes(
        trained_run, tmp_path):
    new = tf.saved_model.load(os.path.join(trained_run[0], 'saved_model'))
    old = tf.Module()
    old.detect, old.variables_of = new.detect, new.model   # no reconstruct at the root
    tf.saved_model.save(old, str(tmp_path / 'saved_model'))
    shutil.copy(os.path.join(trained_run[0], 'settings.json'), tmp_path)
    served = make_server(str(tmp_path), str(tmp_path / 'saved_model'), '127.0.0.1', 0,
                         str(tmp_path), None, download=False)
    threading.Thread(target=served.serve_forever, daemon=True).start()
    try:
        scene = np.zeros([50, 50, 1], np.uint8)
        scene[5:20, 5:9] = 255
        status, answer = request(served, '/api/infer', scene.tobytes())
        expected = new.detect(tf.constant(scene[None] / np.float32(255.0)))
        assert status == 200 and 'reconstruction' not in answer
        assert answer['count'] == int(expected['count'][0])
        np.testing.assert_allclose(answer['boxes'], expected['boxes'][0], atol=1e-4)
        assert request(served, '/api/info')[1]['missing'] == ['reconstruct']
    finally:
        served.shutdown()
        served.server_close()


def test_a_scene_file_comes_back_as_the_same_pixels(server):
    rng = np.random.default_rng(1)
    scene = rng.integers(0, 256, [50, 50], dtype=np.uint8)
    status, answer = request(server, '/api/upload', png_bytes(scene))
    assert status == 200 and answer['notes'] == []
    np.testing.assert_array_equal(answer['pixels'], scene.ravel())


def test_serving_a_folder_without_a_saved_model_or_on_a_taken_port_says_so_in_one_line(
        trained_run, tmp_path):
    empty = str(tmp_path / 'empty')
    os.makedirs(empty)
    result = run_py('--mode=serve', f'--run_dir={empty}', '--port=0', check=False)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        f'error: no SavedModel in {empty}/saved_model: train the run first, or export its '
        'newest checkpoint with --mode=export')
    assert 'Traceback' not in result.stderr
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_py('--mode=serve', f'--run_dir={trained_run[0]}', f'--port={port}',
                        check=False)
    assert result.returncode != 0 and 'Traceback' not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f'error: port {port} on 127.0.0.1 is in use; pick another with --port')


# ---- in a real browser ------------------------------------------------------------------

def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


@pytest.fixture(scope='module')
def page_address(trained_run, small_sprites, tmp_path_factory):
    """``run.py --mode=serve`` on a copy of the trained run, as a person starts it; its
    address once it prints it."""
    run_dir = str(tmp_path_factory.mktemp('served') / 'run')
    shutil.copytree(trained_run[0], run_dir)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, 'run.py'), '--mode=serve', f'--run_dir={run_dir}',
         f'--port={port}', f'--data_dir={small_sprites}', '--nodownload'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
    deadline = time.time() + 180
    line = ''
    while 'serving' not in line and time.time() < deadline and process.poll() is None:
        line = process.stdout.readline()
    assert line.endswith(f'at http://127.0.0.1:{port}/  (Ctrl-C stops)\n'), line
    yield f'http://127.0.0.1:{port}/', run_dir
    process.terminate()
    process.wait(30)


@pytest.fixture(scope='module')
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip('no Chromium for the browser test: apt-get install -y chromium '
                    '(and pip install -r requirements-test.txt for Playwright)')
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox'])
        yield launched
        launched.close()


def record_browser_run(test):
    """One line in $SUPAIR_BROWSER_TEST_LOG (.ci/run prints it): the browser test ran."""
    log = os.environ.get('SUPAIR_BROWSER_TEST_LOG')
    if log:
        with open(log, 'a') as f:
            f.write(f'browser test ran in Chromium: {test}\n')


def wait_until_ready(page):
    """Until the page shows the model's answer to its newest scene."""
    page.wait_for_timeout(50)
    page.wait_for_function("document.getElementById('status').textContent === 'ready'",
                           timeout=30_000)


def shown_and_detected(page, model):
    """What the page shows (count, z_pres and boxes, as printed) and the SavedModel's
    ``detect`` of the pixels the page holds (read back from it)."""
    pixels = np.array(page.evaluate('Array.from(window.served.scene)'), np.uint8)
    count = int(page.locator('#count').text_content())
    z_pres = [float(t) for t in page.locator('#steps td.zpres').all_text_contents()]
    boxes = [float(t) for t in page.locator('#steps td.box').all_text_contents()]
    detected = model.detect(tf.constant(pixels.reshape(1, 50, 50, 1) / np.float32(255.0)))
    return (count, z_pres, boxes), detected, pixels


def assert_shows_detect(page, model):
    (count, z_pres, boxes), detected, pixels = shown_and_detected(page, model)
    assert count == int(detected['count'][0])
    np.testing.assert_allclose(z_pres, detected['z_pres'][0], atol=6e-4)   # printed .3f
    np.testing.assert_allclose(boxes, np.ravel(detected['boxes'][0]), atol=0.06)  # .1f
    return pixels


def stroke(page, points):
    """A pen stroke through ``points`` (scene pixels) on the page's scene."""
    box = page.locator('#scene').bounding_box()
    zoom = box['width'] / 50
    page.mouse.move(box['x'] + points[0][0] * zoom, box['y'] + points[0][1] * zoom)
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box['x'] + x * zoom, box['y'] + y * zoom, steps=6)
    page.mouse.up()


def test_the_page_shows_what_detect_finds_in_a_drawing_and_a_dropped_scene(
        browser, page_address, small_sprites, tmp_path):
    address, run_dir = page_address
    model = tf.saved_model.load(os.path.join(run_dir, 'saved_model'))
    page = browser.new_page(viewport={'width': 1300, 'height': 950})
    page.goto(address)
    wait_until_ready(page)
    stroke(page, [(10, 8), (12, 20), (10, 30)])
    stroke(page, [(32, 30), (40, 34), (36, 44)])
    wait_until_ready(page)
    pixels = assert_shows_detect(page, model).reshape(50, 50)
    assert pixels[8:30, 9:13].max() > 200 and pixels[30:44, 32:41].max() > 200
    assert pixels[:, 20:28].max() == 0     # the two strokes are apart
    assert page.locator('#curve polyline').count() == 2
    assert '"sprites"' in page.locator('#settings').text_content()
    page.screenshot(path=str(tmp_path / 'page.png'))
    print(f'screenshot: {tmp_path / "page.png"}')

    # A test scene dropped as a file: the page holds its pixels and shows detect's boxes.
    cached = [f for f in os.listdir(small_sprites) if f.endswith('.npz')]
    scene = np.load(os.path.join(small_sprites, cached[0]))['test_images'][-1]
    scene = np.round(scene.reshape(50, 50) * 255).astype(np.uint8)
    drop(page, 'scene.png', png_bytes(scene))
    wait_until_ready(page)
    np.testing.assert_array_equal(assert_shows_detect(page, model).reshape(50, 50), scene)
    assert page.locator('#message').text_content() == 'scene.png'
    # ... and chosen with the file button
    path = tmp_path / 'chosen.png'
    Image.fromarray(scene[::-1]).save(path)
    page.set_input_files('#file', str(path))
    page.wait_for_function("document.getElementById('message').textContent === 'chosen.png'")
    wait_until_ready(page)
    np.testing.assert_array_equal(assert_shows_detect(page, model).reshape(50, 50),
                                  scene[::-1])
    # A random test scene of the run's data set (loaded by the server in the background).
    for _ in range(60):
        page.click('#random')
        page.wait_for_function("!document.getElementById('message').textContent"
                               ".startsWith('chosen')")
        if page.locator('#message').text_content().startswith('test scene'):
            break
        page.wait_for_timeout(1000)
    assert re.fullmatch(r'test scene \d+: [0-2] objects?',
                        page.locator('#message').text_content())
    wait_until_ready(page)
    assert_shows_detect(page, model)
    record_browser_run('drawing, dropped and chosen scene files, a random test scene')


def drop(page, name, data):
    """Drops a file ``name`` of bytes ``data`` on the page's scene, as a person drags one."""
    files = page.evaluate_handle(
        '([name, data]) => { const t = new DataTransfer(); '
        't.items.add(new File([new Uint8Array(data)], name)); return t; }', [name, list(data)])
    page.dispatch_event('#scene', 'drop', {'dataTransfer': files})


def test_the_page_answers_bad_pictures_in_its_message_and_goes_on_serving(
        browser, page_address):
    address, run_dir = page_address
    model = tf.saved_model.load(os.path.join(run_dir, 'saved_model'))
    page = browser.new_page()
    page.goto(address)
    wait_until_ready(page)
    colour = np.zeros([100, 100, 3], np.uint8)
    colour[20:60, 30:50] = (255, 0, 0)
    for name, data, message in (
            ('notes.txt', b'a shopping list', 'notes.txt: not an image Pillow can read '
             '(15 bytes); drop a PNG or JPEG'),
            ('huge.png', png_bytes(np.zeros([7072, 7072], np.uint8)),
             'huge.png: the image is 7072 x 7072 pixels (50.0 megapixels), more than the '
             'page takes (25); scale it down first'),
            ('red.png', png_bytes(colour), 'red.png: converted from colour (RGB) to grey; '
             'resized from 100 x 100 to 50 x 50 pixels')):
        drop(page, name, data)
        page.wait_for_function('([name]) => document.getElementById("message").textContent'
                               '.startsWith(name + ":")', arg=[name])
        assert page.locator('#message').text_content() == message
        assert ('error' in page.locator('#message').get_attribute('class')) == (
            name != 'red.png')
    wait_until_ready(page)
    red = assert_shows_detect(page, model).reshape(50, 50)
    luma = Image.fromarray(colour).convert('L').getpixel((40, 40))   # red as grey: 76
    assert red[11:29, 16:24].min() == red.max() == luma > 0   # where the red was
    stroke(page, [(5, 5), (5, 15)])                    # the server still answers
    wait_until_ready(page)
    assert_shows_detect(page, model)
    record_browser_run('bad pictures answered in the page, the server serving on')

