"""The playground page in a real browser: Debian's Chromium driven by Playwright.

The server (``neurona.playground.server.create_app``) runs in this process, served by
uvicorn on a free port in a background thread; the page talks to it exactly as it does
for a student (HTTP + WebSocket), and training runs in neurona.

Chromium comes from the system (``apt-get install chromium``; ``make test`` installs it
when it runs as root), never from Playwright's own download.  Without it these tests FAIL
(they do not skip): a CI machine without a browser must not pass silently.

A screenshot of the trained spiral is written to ``test-artifacts/playground.png``.
"""
from __future__ import annotations

import io
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import expect, sync_playwright

from neurona.playground.server import create_app

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
TIMEOUT_MS = 20_000

# ------------------------------------------------------------------------------ fixtures


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def base_url():
    """The playground server on 127.0.0.1:<free port>, in a background thread."""
    port = free_port()
    # served as `neurona playground` serves it (no WebSocket compression)
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port,
                                           log_level="warning", ws_ping_interval=None,
                                           ws_per_message_deflate=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the playground server stopped while starting"
        assert time.monotonic() < deadline, "the playground server did not start in 20 s"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's Chromium. "
                    "Install it with `apt-get install -y chromium` (`make test` does this "
                    "when run as root).")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh tab (its own session); fails the test on any JavaScript error."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                  accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    errors = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


# ------------------------------------------------------------------------------ helpers


def open_page(page, base_url, hash_=""):
    page.goto(f"{base_url}/{hash_}")
    page.wait_for_selector("body.ready")
    settle(page)


def settle(page):
    """Wait until the page has no request in flight."""
    page.wait_for_function("document.body.dataset.pending === '0'")


def epoch(page) -> int:
    return int(re.sub(r"\D", "", page.text_content("#iter-number")))


def loss(page, which="test") -> float:
    return float(page.text_content(f"#loss-{which}"))


def hash_of(page) -> dict:
    text = page.evaluate("location.hash").lstrip("#")
    return dict(part.split("=", 1) for part in text.split("&") if part)


def n_links(page) -> int:
    return page.locator("#network path.link").count()


def session_state(page, base_url) -> dict:
    sid = page.evaluate("document.body.dataset.session")
    with urllib.request.urlopen(f"{base_url}/api/sessions/{sid}") as r:
        return json.load(r)["state"]


def links_for(n_inputs: int, shape: list[int], n_out: int = 1) -> int:
    sizes = [n_inputs, *shape, n_out]
    return sum(a * b for a, b in zip(sizes, sizes[1:]))


# ------------------------------------------------------------------------------ tests

ALL_FEATURES = "&".join(f"{f}=true" for f in
                        ("x", "y", "xSquared", "ySquared", "xTimesY", "sinX", "sinY"))


def test_spiral_trains_in_the_browser(page, base_url):
    # the spiral, all seven features, two hidden layers of 8 (picked through the controls)
    open_page(page, base_url, "#seed=spiral-test&initSeed=3")
    page.select_option("#dataset", "spiral")
    settle(page)
    for feature in ("xSquared", "ySquared", "xTimesY", "sinX", "sinY"):
        page.click(f"#canvas-{feature}")
        settle(page)
    for layer in (1, 2):
        for _ in range(8 - (4 if layer == 1 else 2)):
            page.click(f".plus-neuron[data-layer='{layer}']")
            settle(page)
    h = hash_of(page)
    assert h["dataset"] == "spiral" and h["networkShape"] == "8,8"
    assert n_links(page) == links_for(7, [8, 8])
    assert page.locator("#network-nodes .node.hidden").count() == 16
    start = loss(page)
    assert epoch(page) == 0 and start > 0.3          # untrained: about 1/2 (o - t)^2 of chance
    page.fill("#stop-epoch", "300")                  # "stop at epoch": the run ends by itself
    page.press("#stop-epoch", "Enter")
    settle(page)

    page.click("#play-pause-button")
    expect(page.locator("#play-pause-button")).to_have_class(re.compile("playing"))
    page.wait_for_function("document.body.dataset.playing === 'false'", timeout=45_000)
    expect(page.locator("#message")).to_contain_text("300")
    expect(page.locator("#iter-number")).to_have_text("000,300")
    print("spiral test loss after 300 epochs:", loss(page))
    assert loss(page) < 0.1 < start, f"test loss {loss(page)} after {epoch(page)} epochs"
    assert float(page.text_content("#ms-per-epoch")) > 0
    assert page.text_content("#accuracy").endswith("%")

    # the heatmap is drawn: both colours appear (a spiral is not one flat colour)
    blue, orange = page.evaluate("""() => {
        const c = document.querySelector('#heatmap'), d = c.getContext('2d')
            .getImageData(0, 0, c.width, c.height).data;
        let blue = 0, orange = 0;
        for (let i = 0; i < d.length; i += 4) {
            if (d[i + 2] > 150 && d[i] < 100) blue++;
            if (d[i] > 200 && d[i + 2] < 100) orange++;
        }
        return [blue, orange];
    }""")
    assert blue > 1000 and orange > 1000, (blue, orange)
    # the loss chart has lines on it
    assert page.evaluate("""() => {
        const c = document.querySelector('#loss-chart');
        return c.getContext('2d').getImageData(0, 0, c.width, c.height).data
            .some((v, i) => i % 4 === 3 && v > 0);
    }""")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "playground.png"), full_page=True)
    assert (ARTIFACTS / "playground.png").stat().st_size > 10_000


def test_features_and_layers_change_the_network(page, base_url):
    open_page(page, base_url, "#seed=layers")
    assert hash_of(page)["networkShape"] == "4,2"
    assert n_links(page) == links_for(2, [4, 2])
    assert page.locator("#network rect.bias").count() == 4 + 2 + 1

    # hover a link: its weight; click: edit it (POST .../weight); the same for a bias
    # an S-curve between two rows: the centre of its box lies on it (Playwright clicks there)
    link = page.locator("#network path.link[data-from='x'][data-to='h1_1']")
    link.hover()
    expect(page.locator("#hovercard")).to_contain_text("Weight is")
    link.click()
    page.fill("#hovercard .hovercard-input", "2.5")
    page.press("#hovercard .hovercard-input", "Enter")
    settle(page)
    network = session_state(page, base_url)["network"]
    assert network["weights"]["l1"][1][0] == 2.5         # (out h1_1, in x)
    assert float(link.get_attribute("stroke-width")) > 5           # a thick link now
    page.locator("#network rect.bias[data-node='h1_0']").click()
    page.fill("#hovercard .hovercard-input", "-0.75")
    page.press("#hovercard .hovercard-input", "Enter")
    settle(page)
    assert session_state(page, base_url)["network"]["biases"]["l1"][0] == -0.75

    # hover a neuron: the big heatmap shows that neuron's output (its thumbnail, enlarged)
    same = """() => {
        const pixels = c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.join();
        return pixels(document.querySelector('#heatmap')) ===
               pixels(document.querySelector(".node[data-node='h1_2'] canvas"));
    }"""
    assert not page.evaluate(same)
    page.hover(".node[data-node='h1_2']")
    assert page.evaluate(same)
    page.mouse.move(5, 5)
    assert not page.evaluate(same)

    page.click("#canvas-xSquared")                  # a feature on
    settle(page)
    assert hash_of(page)["xSquared"] == "true"
    assert n_links(page) == links_for(3, [4, 2])
    page.click("#canvas-x")                         # a feature off
    settle(page)
    assert hash_of(page)["x"] == "false"
    assert "inactive" in page.get_attribute("#canvas-x", "class")
    assert n_links(page) == links_for(2, [4, 2])

    page.click("#add-layers")
    settle(page)
    assert hash_of(page)["networkShape"] == "4,2,2"
    assert page.text_content("#num-layers") == "3"
    page.click(".plus-neuron[data-layer='3']")
    settle(page)
    assert hash_of(page)["networkShape"] == "4,2,3"
    assert n_links(page) == links_for(2, [4, 2, 3])
    page.click(".minus-neuron[data-layer='1']")
    settle(page)
    assert hash_of(page)["networkShape"] == "3,2,3"
    assert page.locator("#network-nodes .node.hidden").count() == 8
    for _ in range(3):
        page.click("#remove-layers")
        settle(page)
    assert hash_of(page).get("networkShape", "") == ""
    assert n_links(page) == links_for(2, [])        # inputs straight to the output
    assert page.locator(".plus-neuron").count() == 0


def test_url_hash_round_trips(page, base_url):
    wanted = {"activation": "relu", "learningRate": "0.1", "regularization": "L2",
              "regularizationRate": "0.003", "batchSize": "17", "noise": "15",
              "percTrainData": "70", "dataset": "xor", "networkShape": "3", "sinX": "true",
              "optimizer": "adam", "loss": "crossentropy", "seed": "round-trip",
              "stopEpoch": "500", "showTestData": "true"}
    open_page(page, base_url, "#" + "&".join(f"{k}={v}" for k, v in wanted.items()))
    controls = {"#activations": "relu", "#learningRate": "0.1", "#regularizations": "L2",
                "#regularRate": "0.003", "#batchSize": "17", "#noise": "15",
                "#percTrainData": "70", "#dataset": "xor", "#optimizer": "adam",
                "#loss-function": "crossentropy", "#stop-epoch": "500"}
    for selector, value in controls.items():
        assert page.input_value(selector) == value, selector
    assert page.is_checked("#show-test-data")
    assert "inactive" not in page.get_attribute("#canvas-sinX", "class")
    assert page.locator("#network-nodes .node.hidden").count() == 3
    h = hash_of(page)
    assert {k: h.get(k) for k in wanted} == wanted   # the page rewrote the same values

    page.select_option("#learningRate", "0.3")
    settle(page)
    assert hash_of(page)["learningRate"] == "0.3"
    page.select_option("#activations", "tanh")
    settle(page)
    assert hash_of(page)["activation"] == "tanh"
    page.fill("#stop-loss", "0.05")
    page.press("#stop-loss", "Enter")
    settle(page)
    assert hash_of(page)["stopLoss"] == "0.05"

    # the rewritten link reproduces the configuration in a new tab
    link = page.url
    other = page.context.new_page()
    other.goto(link)
    other.wait_for_selector("body.ready")
    settle(other)
    assert other.input_value("#learningRate") == "0.3"
    assert other.input_value("#activations") == "tanh"
    assert other.input_value("#dataset") == "xor"
    assert hash_of(other)["seed"] == "round-trip"
    assert other.evaluate("document.body.dataset.session") != \
        page.evaluate("document.body.dataset.session")   # each tab has its own session


def test_display_toggles_regenerate_problem_and_typed_hash(page, base_url):
    open_page(page, base_url, "#seed=toggles&networkShape=3")
    page.check("#discretize")
    settle(page)
    assert hash_of(page)["discretize"] == "true"
    colours = page.evaluate("""() => {
        const c = document.querySelector('#heatmap'), d = c.getContext('2d')
            .getImageData(0, 0, c.width, c.height).data, seen = new Set();
        for (let i = 0; i < d.length; i += 4) seen.add(d[i] + ',' + d[i + 1] + ',' + d[i + 2]);
        return [...seen];
    }""")
    assert set(colours) <= {"245,147,34", "8,119,189"}, colours   # only the two classes
    page.check("#show-test-data")
    settle(page)
    assert hash_of(page)["showTestData"] == "true"

    before = session_state(page, base_url)["points"]["train"][:3]
    page.click("#regenerate-button")                # new seed, new points
    settle(page)
    assert hash_of(page)["seed"] != "toggles"
    assert session_state(page, base_url)["points"]["train"][:3] != before

    page.select_option("#problem", "regression")
    settle(page)
    assert hash_of(page)["problem"] == "regression"
    assert page.is_visible("#regDataset") and page.is_hidden("#dataset")
    assert page.is_visible("#r2") and page.is_hidden("#accuracy")
    assert float(page.text_content("#rmse")) > 0

    # a hash typed into the address bar changes the configuration too
    page.evaluate("location.hash = location.hash.replace(/learningRate=[^&]*/, 'learningRate=1')")
    page.wait_for_function("document.querySelector('#learningRate').value === '1'")
    settle(page)
    assert session_state(page, base_url)["config"]["learningRate"] == 1


def test_three_classes_softmax_per_class_heatmap(page, base_url):
    open_page(page, base_url, "#seed=three&dataset=spiral3&loss=crossentropy&networkShape=4")
    assert page.locator("#network-nodes .node.output-node").count() == 3      # softmax: 3 outputs
    assert page.locator("#confusion tr").count() == 1 + 3
    assert page.is_visible("#class-select")
    pixels = "document.querySelector('#heatmap').getContext('2d').getImageData(0, 0, 100, 100)" \
             ".data.join()"
    images = {}
    for which in ("all", "0", "1", "2"):
        page.select_option("#class-select", which)
        images[which] = page.evaluate(pixels)
    assert len(set(images.values())) == 4            # each choice draws its own heatmap
    # a click adds a point of the chosen class, shift-click one of the next class
    page.click("#heatmap", position={"x": 150, "y": 150})
    settle(page)
    page.click("#heatmap", position={"x": 200, "y": 150}, modifiers=["Shift"])
    settle(page)
    assert [p[2] for p in session_state(page, base_url)["points"]["train"][-2:]] == [2, 0]


def test_bad_link_and_bad_value_show_a_message(page, base_url):
    open_page(page, base_url, "#activation=swish&seed=bad")
    expect(page.locator("#message")).to_contain_text("activation")
    assert page.input_value("#activations") == "tanh"      # started from the defaults
    assert hash_of(page)["seed"] == "bad"

    # a value the server refuses: its message, and the control shows the old value again
    page.fill("#stop-loss", "-1")
    page.press("#stop-loss", "Enter")
    settle(page)
    expect(page.locator("#message")).to_contain_text("stopLoss")
    assert page.input_value("#stop-loss") == "0"
    assert hash_of(page)["stopLoss"] == "0"
    page.click("#next-step-button")                      # the session still works
    settle(page)
    assert epoch(page) == 1


def test_csv_upload_and_click_to_add_points(page, base_url):
    open_page(page, base_url, "#seed=csv")
    rows = ["x1,x2,label"] + [f"{x / 4:.2f},{(x % 7) - 3},{1 if x % 2 else -1}"
                              for x in range(-20, 20)]
    page.set_input_files("#csv-upload", files=[{
        "name": "mine.csv", "mimeType": "text/csv", "buffer": "\n".join(rows).encode()}])
    settle(page)
    state = session_state(page, base_url)
    assert len(state["points"]["train"]) + len(state["points"]["test"]) == 40
    assert epoch(page) == 0
    assert page.is_hidden("#message")

    # a bad file: a clear message naming the line, and the data stays
    page.set_input_files("#csv-upload", files=[{
        "name": "bad.csv", "mimeType": "text/csv", "buffer": b"1,2,1\n3,oops,1\n"}])
    settle(page)
    expect(page.locator("#message")).to_contain_text("line 2")
    state = session_state(page, base_url)
    assert len(state["points"]["train"]) + len(state["points"]["test"]) == 40

    # click on the output: a +1 point there; shift-click: a -1 point
    n_train = len(state["points"]["train"])
    page.click("#heatmap", position={"x": 225, "y": 75})             # (x1, x2) = (3, 3)
    settle(page)
    page.click("#heatmap", position={"x": 75, "y": 225}, modifiers=["Shift"])   # (-3, -3)
    settle(page)
    train = session_state(page, base_url)["points"]["train"]
    assert len(train) == n_train + 2
    added = {(round(x1), round(x2)): label for x1, x2, label in train[-2:]}
    assert added == {(3, 3): 1, (-3, -3): -1}


def test_step_reset_and_export_runs(page, base_url, tmp_path):
    open_page(page, base_url, "#seed=export&dataset=gauss&networkShape=3")
    page.click("#next-step-button")
    settle(page)
    page.click("#next-step-button")
    settle(page)
    assert epoch(page) == 2
    test_loss = loss(page)
    assert page.is_hidden("#message")

    with page.expect_download() as info:
        page.click("#export-button")
    zip_path = tmp_path / "model.zip"
    info.value.save_as(zip_path)
    with zipfile.ZipFile(zip_path) as z:
        assert set(z.namelist()) >= {"playground_model.py", "playground_model.safetensors",
                                     "playground_data.csv"}
        z.extractall(tmp_path)
    run = subprocess.run([sys.executable, "playground_model.py"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    numbers = [float(m) for m in re.findall(r"loss[^0-9\n-]*(-?\d+\.\d+)", run.stdout)]
    assert numbers, f"the exported script printed no loss: {run.stdout!r}"
    assert any(abs(v - test_loss) < 2e-3 for v in numbers), (run.stdout, test_loss)

    page.click("#reset-button")
    settle(page)
    assert epoch(page) == 0


def test_play_and_pause(page, base_url):
    open_page(page, base_url, "#seed=pause&networkShape=2")
    page.click("#play-pause-button")
    page.wait_for_function(
        "parseInt(document.querySelector('#iter-number').textContent.replace(/\\D/g, '')) >= 5")
    # frames are drawn with requestAnimationFrame, at most 30 per second
    count = "[window.playground.framesDrawn, performance.now()]"
    f0, t0 = page.evaluate(count)
    time.sleep(1.0)
    f1, t1 = page.evaluate(count)
    assert 2 <= f1 - f0 <= 31 * (t1 - t0) / 1000 + 1, (f1 - f0, t1 - t0)
    page.click("#play-pause-button")
    page.wait_for_function("document.body.dataset.playing === 'false'")
    settle(page)                     # on "paused" the page fetches the server's final state
    paused_at = epoch(page)
    time.sleep(0.5)
    assert epoch(page) == paused_at >= 5             # paused: no more epochs
    state = session_state(page, base_url)
    assert state["metrics"]["epoch"] == paused_at    # the page shows the server's epoch
    assert f"{state['metrics']['loss_test']:.3f}" == page.text_content("#loss-test")


def test_nan_is_grey_with_a_message(page, base_url):
    # a linear network on a regression problem with learning rate 10 blows up in one epoch
    open_page(page, base_url, "#seed=nan&problem=regression&learningRate=10&activation=linear"
                              "&networkShape=8,8")
    page.click("#play-pause-button")
    expect(page.locator("#message")).to_contain_text("learning rate", timeout=TIMEOUT_MS)
    page.wait_for_function("document.body.dataset.playing === 'false'")
    settle(page)
    expect(page.locator("#loss-test")).to_have_text("NaN")
    grey = page.evaluate("""() => {
        const c = document.querySelector('#heatmap'), d = c.getContext('2d')
            .getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4)
            if (d[i] === 153 && d[i + 1] === 153 && d[i + 2] === 153) n++;   // #999999
        return n / (d.length / 4);
    }""")
    assert grey > 0.5
    page.select_option("#learningRate", "0.03")     # recover: lower the rate and reset
    settle(page)
    page.click("#reset-button")
    settle(page)
    assert loss(page) < 1 and page.is_hidden("#message")
