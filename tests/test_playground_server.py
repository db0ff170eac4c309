"""The playground's server: HTTP API, WebSocket play loop, sessions, and the CLI command.

Everything runs in-process through Starlette's TestClient (no network), except the last
test, which starts ``neurona playground`` in a subprocess on a free local port.
"""
from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from neurona.playground.engine import Playground as Engine
from neurona.playground.server import create_app, encode_array, encode_grid, grid_json
from neurona.playground.sessions import SessionNotFound, SessionStore, StoreFull


class FakeClock:
    """A clock the test moves by hand (seconds)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def make_client(**kwargs):
    return TestClient(create_app(engine_factory=Engine, **kwargs))


@pytest.fixture
def client():
    with make_client() as c:
        yield c


def new_session(client, **config) -> str:
    r = client.post("/api/sessions", json={"config": {"seed": "test", **config}})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def decode(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype="<f4")


def engine_of(client, sid):
    return client.app.state.store.get(sid).engine


# ----------------------------------------------------------------------------- HTTP API

def test_sessions_are_independent(client):
    a, b = new_session(client), new_session(client, activation="relu")
    assert a != b
    r = client.post(f"/api/sessions/{a}/step", json={"epochs": 5})
    assert r.status_code == 200 and r.json()["metrics"]["epoch"] == 5
    sa = client.get(f"/api/sessions/{a}").json()["state"]
    sb = client.get(f"/api/sessions/{b}").json()["state"]
    assert sa["metrics"]["epoch"] == 5 and sb["metrics"]["epoch"] == 0
    assert sa["config"]["activation"] == "tanh" and sb["config"]["activation"] == "relu"
    assert client.delete(f"/api/sessions/{b}").json() == {"deleted": b}
    assert client.get(f"/api/sessions/{b}").status_code == 404
    assert client.get(f"/api/sessions/{a}").status_code == 200


def test_config_round_trip_keeps_the_original_names(client):
    sid = new_session(client)
    changes = {"activation": "relu", "networkShape": "3,3", "learningRate": 0.1,
               "batchSize": 5}
    r = client.post(f"/api/sessions/{sid}/config", json=changes)
    assert r.status_code == 200, r.text
    config = r.json()["state"]["config"]
    assert {k: config[k] for k in changes} == changes
    assert client.get(f"/api/sessions/{sid}").json()["state"]["config"] == config


def test_step_lowers_the_loss(client):
    sid = new_session(client)
    first = client.post(f"/api/sessions/{sid}/step", json={"epochs": 1}).json()["metrics"]
    later = client.post(f"/api/sessions/{sid}/step", json={"epochs": 150}).json()
    assert later["metrics"]["epoch"] == 151
    assert later["metrics"]["loss_train"] < 0.8 * first["loss_train"]
    assert "layers" in later["network"]


def test_grid_is_base64_float32_with_nan_kept(client):
    sid = new_session(client)
    client.post(f"/api/sessions/{sid}/step", json={"epochs": 3})
    r = client.get(f"/api/sessions/{sid}/grid", params={"density": 20})
    assert r.status_code == 200
    g = r.json()
    want = engine_of(client, sid).grid(20)
    out = decode(g["output"])
    assert g["density"] == 20 and out.shape == (400,)
    np.testing.assert_array_equal(out.reshape(20, 20), want["output"])
    assert set(g["neurons"]) == set(want["neurons"])
    for key, value in want["neurons"].items():
        np.testing.assert_array_equal(decode(g["neurons"][key]).reshape(20, 20), value)
    assert json.loads(grid_json(want)) == json.loads(json.dumps(encode_grid(want)))
    # NaN (a diverged network) survives the encoding, bit for bit where it matters
    a = np.array([[1.5, np.nan], [-np.inf, 0.25]], np.float32)
    back = decode(encode_array(a)).reshape(2, 2)
    assert np.isnan(back[0, 1]) and back[1, 0] == -np.inf
    np.testing.assert_array_equal(back, a)
    assert client.get(f"/api/sessions/{sid}/grid", params={"density": 5000}).status_code == 400
    three = new_session(client, dataset="spiral3")       # K classes: one map per class
    g = client.get(f"/api/sessions/{three}/grid", params={"density": 8}).json()
    want = engine_of(client, three).grid(8)["classes"]
    assert len(g["classes"]) == len(want) == 3
    for b64, probs in zip(g["classes"], want):
        np.testing.assert_array_equal(decode(b64).reshape(8, 8), probs)


BAD_REQUESTS = [
    # (what, path tail, how to send, status, words the message must contain)
    ("unknown activation", "config", {"json": {"activation": "swish"}}, 400, "activation"),
    ("50 layers", "config", {"json": {"networkShape": ",".join(["4"] * 50)}}, 400,
     "networkShape"),
    ("negative learning rate", "config", {"json": {"learningRate": -0.1}}, 400, "learningRate"),
    ("batch 0", "config", {"json": {"batchSize": 0}}, 400, "batchSize"),
    ("malformed CSV", "upload", {"content": "x1,x2,label\n1,2,1\n1,2\n",
                                 "headers": {"content-type": "text/csv"}}, 400, "line"),
    ("oversized upload", "upload", {"content": "1,1,1\n" * 20_000,
                                    "headers": {"content-type": "text/csv"}}, 413, "limit"),
    ("bad JSON", "config", {"content": "{activation: relu", "headers":
                            {"content-type": "application/json"}}, 400, "JSON"),
    ("JSON list", "step", {"json": [1, 2]}, 400, "object"),
    ("0 epochs", "step", {"json": {"epochs": 0}}, 400, "epochs"),
    ("too many epochs", "step", {"json": {"epochs": 10**6}}, 400, "epochs"),
    ("epochs not a number", "step", {"json": {"epochs": "ten"}}, 400, "epochs"),
    ("weight not finite", "weight", {"content": '{"layer": 1, "out": 0, "in": 0, '
                                                '"value": NaN}'}, 400, "value"),
    ("weight missing key", "weight", {"json": {"layer": 1, "value": 1}}, 400, "out"),
    ("point in neither part", "points", {"json": {"x1": 1, "x2": 1, "label": 1,
                                                  "part": "validation"}}, 400, "part"),
]


@pytest.mark.parametrize("what,tail,send,status,words", BAD_REQUESTS,
                         ids=[b[0] for b in BAD_REQUESTS])
def test_bad_requests_are_refused_and_change_nothing(client, what, tail, send, status, words):
    sid = new_session(client)
    client.post(f"/api/sessions/{sid}/step", json={"epochs": 2})
    before = client.get(f"/api/sessions/{sid}").json()["state"]
    r = client.post(f"/api/sessions/{sid}/{tail}", **send)
    assert r.status_code == status, r.text
    message = r.json()["error"]
    assert words.lower() in message.lower(), message
    after = client.get(f"/api/sessions/{sid}").json()["state"]
    assert after["config"] == before["config"] and after["points"] == before["points"]
    assert after["metrics"]["epoch"] == 2
    assert after["metrics"]["loss_train"] == pytest.approx(before["metrics"]["loss_train"])
    r = client.post(f"/api/sessions/{sid}/step", json={"epochs": 1})
    assert r.status_code == 200 and r.json()["metrics"]["epoch"] == 3


WEIRD = [None, "", "abc", -1, 1e308, [1], {}, True, "nan", 10**30, " 4 , 2 "]


def test_no_config_value_crashes_the_server(client):
    """Every key with odd values: 200 or a 400 with a message, never a 500; still trains."""
    from neurona.playground.config import DEFAULTS
    sid = new_session(client)
    for key in sorted(DEFAULTS):
        for value in WEIRD:
            r = client.post(f"/api/sessions/{sid}/config", json={key: value})
            assert r.status_code in (200, 400), (key, value, r.text)
            if r.status_code == 400:
                assert key in r.json()["error"], (key, value, r.text)
            else:
                client.post(f"/api/sessions/{sid}/config", json={key: DEFAULTS[key]})
    r = client.post(f"/api/sessions/{sid}/step", json={"epochs": 2})
    assert r.status_code == 200 and r.json()["metrics"]["epoch"] >= 2


def test_unknown_session_and_route_answer_404_json(client):
    for method, path in [("get", "/api/sessions/nope"), ("post", "/api/sessions/nope/step"),
                         ("get", "/api/sessions/nope/grid"), ("delete", "/api/sessions/nope"),
                         ("get", "/api/nothing-here")]:
        r = getattr(client, method)(path)
        assert r.status_code == 404, path
        assert "error" in r.json()
    assert "unknown session" in client.get("/api/sessions/nope").json()["error"]
    r = client.post("/api/sessions", json={"config": {"activation": "swish"}})
    assert r.status_code == 400 and "activation" in r.json()["error"]
    assert len(client.app.state.store) == 0


def test_upload_reset_regenerate_and_point(client):
    sid = new_session(client)
    csv = "x1,x2,label\n" + "".join(f"{x:.2f},{-x:.2f},{1 if x > 0 else -1}\n"
                                    for x in np.linspace(-4, 4, 40))
    r = client.post(f"/api/sessions/{sid}/upload", content=csv,
                    headers={"content-type": "text/csv"})
    assert r.status_code == 200, r.text
    points = r.json()["state"]["points"]
    assert len(points["train"]) + len(points["test"]) == 40
    r = client.post(f"/api/sessions/{sid}/points", json={"x1": 1.0, "x2": 2.0, "label": 1})
    assert r.status_code == 200, r.text
    assert len(r.json()["state"]["points"]["train"]) == len(points["train"]) + 1
    client.post(f"/api/sessions/{sid}/step", json={"epochs": 4})
    r = client.post(f"/api/sessions/{sid}/reset", json={"same_init": True})
    assert r.status_code == 200 and r.json()["state"]["metrics"]["epoch"] == 0
    seed = r.json()["state"]["config"]["seed"]
    r = client.post(f"/api/sessions/{sid}/regenerate")
    assert r.status_code == 200 and r.json()["state"]["config"]["seed"] != seed


def test_export_zip_has_the_three_files(client):
    sid = new_session(client)
    client.post(f"/api/sessions/{sid}/step", json={"epochs": 2})
    r = client.get(f"/api/sessions/{sid}/export")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        assert sorted(z.namelist()) == ["playground_data.csv", "playground_model.py",
                                        "playground_model.safetensors"]
        want = engine_of(client, sid).export()
        assert z.read("playground_model.safetensors") == want["weights"]
        assert z.read("playground_model.py").decode() == want["script"]


def test_static_page_and_a_clear_message_when_missing(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html><title>neurona playground</title>")
    (tmp_path / "playground.js").write_text("console.log('hi')")
    with make_client(static_dir=tmp_path) as c:
        r = c.get("/")
        assert r.status_code == 200 and "neurona playground" in r.text
        r = c.get("/static/playground.js")
        assert r.status_code == 200 and "console.log" in r.text
        assert c.get("/static/nothing.css").status_code == 404
    with make_client(static_dir=tmp_path / "missing") as c:
        r = c.get("/")
        assert r.status_code == 404 and "index.html" in r.json()["error"]


def test_requests_from_other_sites_are_refused(client):
    r = client.post("/api/sessions", json={}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403 and "another site" in r.json()["error"]
    assert len(client.app.state.store) == 0
    r = client.post("/api/sessions", json={}, headers={"origin": "http://testserver"})
    assert r.status_code == 200                       # the page's own origin
    sid = r.json()["id"]
    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect(f"/ws/{sid}", headers={"origin": "http://evil.example"}):
            pass
    with client.websocket_connect(f"/ws/{sid}", headers={"origin": "http://testserver"}) as ws:
        ws.send_json({"type": "step", "epochs": 1})
        assert json.loads(ws.receive_text())["metrics"]["epoch"] == 1


# ----------------------------------------------------------------------------- sessions

def test_session_limit_frees_the_oldest_idle_one_then_refuses():
    clock = FakeClock()
    with make_client(max_sessions=2, idle_timeout_s=600, clock=clock) as c:
        a = new_session(c)
        clock.now += 10
        b = new_session(c)
        clock.now += 10
        c.get(f"/api/sessions/{a}")                   # a used more recently than b
        d = new_session(c)                            # full: b (oldest idle) is freed
        assert c.get(f"/api/sessions/{b}").status_code == 404
        assert c.get(f"/api/sessions/{a}").status_code == 200
        with c.websocket_connect(f"/ws/{a}"), c.websocket_connect(f"/ws/{d}"):
            r = c.post("/api/sessions", json={})      # both have live pages: refuse
            assert r.status_code == 503 and "open sessions" in r.json()["error"]
        assert len(c.app.state.store) == 2


def test_idle_sessions_are_freed_after_the_timeout():
    clock = FakeClock()
    with make_client(max_sessions=4, idle_timeout_s=60, clock=clock) as c:
        a, b = new_session(c), new_session(c)
        clock.now += 50
        assert c.get(f"/api/sessions/{a}").status_code == 200   # a keeps itself alive
        clock.now += 30                                        # b: 80 s idle, a: 30 s
        r = c.get(f"/api/sessions/{b}")
        assert r.status_code == 404 and "60 s" in r.json()["error"]
        assert c.get(f"/api/sessions/{a}").status_code == 200
        assert len(c.app.state.store) == 1


def test_session_store_directly():
    clock = FakeClock()
    store = SessionStore(factory=lambda config: dict(config or {}), max_sessions=1,
                         idle_timeout_s=5, clock=clock)
    s = store.create({"k": 1})
    assert store.get(s.id).engine == {"k": 1}
    s.connections = 1
    clock.now += 100
    assert store.free_idle() == []                    # a live connection is never idle
    with pytest.raises(StoreFull):
        store.create(None)
    s.connections = 0
    t = store.create(None)                            # s freed for t
    assert s.closed and s.id not in store and t.id in store
    store.delete(t.id)
    with pytest.raises(SessionNotFound, match="unknown session"):
        store.get(t.id)
    with pytest.raises(ValueError, match="max_sessions"):
        SessionStore(dict, max_sessions=0)


# ----------------------------------------------------------------------------- WebSocket

def receive(ws, types=("frame",)):
    """The next message of one of these types (others are collected too)."""
    while True:
        message = json.loads(ws.receive_text())
        if message["type"] in types:
            return message
        assert message["type"] not in ("error",), message


def test_play_sends_frames_with_rising_epochs_and_pause_stops_them(client):
    sid = new_session(client)
    with client.websocket_connect(f"/ws/{sid}") as ws:
        ws.send_json({"type": "fps", "value": 10})
        t0 = time.perf_counter()
        ws.send_json({"type": "play"})
        frames = [receive(ws) for _ in range(5)]
        elapsed = time.perf_counter() - t0
        epochs = [f["metrics"]["epoch"] for f in frames]
        assert epochs == sorted(set(epochs)) and epochs[0] >= 1
        assert elapsed >= 0.35, f"5 frames at 10 fps took only {elapsed:.3f} s"
        assert max(np.diff(epochs)) > 1, f"epochs per frame never adapted: {epochs}"
        grid = frames[-1]["grid"]
        assert decode(grid["output"]).shape == (grid["density"] ** 2,)
        assert "layers" in frames[-1]["network"]
        ws.send_json({"type": "pause"})
        paused = receive(ws, ("paused",))
        assert paused["epoch"] >= epochs[-1]
        ws.send_json({"type": "step", "epochs": 1})  # the next message is this step's frame
        message = json.loads(ws.receive_text())
        assert message["type"] == "frame" and message["metrics"]["epoch"] == paused["epoch"] + 1


def test_stop_epoch_sends_stopped(client):
    sid = new_session(client)
    assert client.post(f"/api/sessions/{sid}/config", json={"stopEpoch": 40}).status_code == 200
    with client.websocket_connect(f"/ws/{sid}") as ws:
        ws.send_json({"type": "play"})
        frames = []
        while True:
            message = json.loads(ws.receive_text())
            if message["type"] == "stopped":
                break
            assert message["type"] == "frame", message
            frames.append(message)
        assert message["code"] == "stopEpoch" and message["epoch"] == 40
        assert "40" in message["reason"]
        assert frames[-1]["metrics"]["epoch"] == 40         # never overshoots
        ws.send_json({"type": "play"})                       # already there: stops at once
        again = json.loads(ws.receive_text())
        assert again["type"] == "stopped" and again["epoch"] == 40


def test_stop_loss_sends_stopped(client):
    sid = new_session(client)
    client.post(f"/api/sessions/{sid}/config", json={"stopLoss": 0.15})
    with client.websocket_connect(f"/ws/{sid}") as ws:
        ws.send_json({"type": "play"})
        last = None
        while (message := json.loads(ws.receive_text()))["type"] == "frame":
            last = message
        assert message["type"] == "stopped" and message["code"] == "stopLoss", message
        assert last["metrics"]["loss_test"] <= 0.15 and "0.15" in message["reason"]


def test_divergence_is_a_message_not_a_crash(client):
    sid = new_session(client, learningRate=10, networkShape="8,8,8,8,8,8", activation="relu",
                      problem="regression")
    r = client.post(f"/api/sessions/{sid}/step", json={"epochs": 5})
    assert r.status_code == 200
    metrics = r.json()["metrics"]                 # NaN weights travel as null: valid JSON
    assert metrics["diverged"] and metrics["loss_test"] is None
    assert "learning rate" in metrics["message"]
    grid = client.get(f"/api/sessions/{sid}/grid", params={"density": 10}).json()
    assert np.isnan(decode(grid["output"])).all()
    with client.websocket_connect(f"/ws/{sid}") as ws:
        ws.send_json({"type": "play"})
        message = json.loads(ws.receive_text())
        assert message["type"] == "stopped" and message["code"] == "diverged"
        assert "learning rate" in message["reason"]
    r = client.post(f"/api/sessions/{sid}/config", json={"learningRate": 0.03})
    assert r.status_code == 200
    r = client.post(f"/api/sessions/{sid}/reset", json={"same_init": True})
    assert r.status_code == 200 and not r.json()["state"]["metrics"]["diverged"]


def test_requests_while_playing_take_turns_with_the_play_loop(client):
    sid = new_session(client)
    with client.websocket_connect(f"/ws/{sid}") as ws:
        ws.send_json({"type": "play"})
        receive(ws)
        r = client.post(f"/api/sessions/{sid}/config", json={"learningRate": 0.1})
        assert r.status_code == 200 and r.json()["state"]["config"]["learningRate"] == 0.1
        r = client.post(f"/api/sessions/{sid}/step", json={"epochs": 3})
        assert r.status_code == 200
        stepped = r.json()["metrics"]["epoch"]
        later = [receive(ws)["metrics"]["epoch"] for _ in range(3)]
        assert later[-1] > stepped and later == sorted(later)
        client.delete(f"/api/sessions/{sid}")          # the tab's session is gone: play ends
        while (message := json.loads(ws.receive_text()))["type"] == "frame":
            pass
        assert message["type"] == "stopped" and message["code"] == "closed", message
        ws.send_json({"type": "step", "epochs": 1})
        message = json.loads(ws.receive_text())
        assert message["type"] == "error" and "reload the page" in message["error"]


def test_concurrent_requests_on_one_session_take_turns():
    """Eight steps at once (eight worker threads): the lock serialises them, none is lost."""
    import asyncio
    import httpx

    async def main():
        app = create_app(engine_factory=Engine)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            sid = (await c.post("/api/sessions", json={"config": {"seed": "t"}})).json()["id"]
            steps = [c.post(f"/api/sessions/{sid}/step", json={"epochs": 5}) for _ in range(8)]
            answers = await asyncio.gather(*steps, c.get(f"/api/sessions/{sid}/grid"))
            assert all(r.status_code == 200 for r in answers)
            epochs = sorted(r.json()["metrics"]["epoch"] for r in answers[:-1])
            assert epochs == list(range(5, 45, 5))     # each step saw the one before it
    asyncio.run(main())


def test_websocket_bad_messages_and_unknown_session(client):
    sid = new_session(client)
    with client.websocket_connect(f"/ws/{sid}") as ws:
        for bad, words in [("not json", "JSON"), ('{"type": "dance"}', "dance"),
                           ('{"type": "step", "epochs": -3}', "epochs"),
                           ('{"type": "fps", "value": "fast"}', "fps")]:
            ws.send_text(bad)
            message = json.loads(ws.receive_text())
            assert message["type"] == "error" and words in message["error"], message
        ws.send_json({"type": "step", "epochs": 2})          # still works
        assert json.loads(ws.receive_text())["metrics"]["epoch"] == 2
    with client.websocket_connect("/ws/nope") as ws:
        message = json.loads(ws.receive_text())
        assert message["type"] == "error" and "unknown session" in message["error"]


# ----------------------------------------------------------------------------- CLI

def test_cli_starts_the_server_and_prints_the_url():
    import httpx
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "neurona", "playground", "--port", "0",
                             "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("neurona playground: http://127.0.0.1:"), line
        url = line.split(": ", 1)[1]
        for _ in range(100):
            try:
                r = httpx.get(url, timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert r.status_code in (200, 404)     # 404 only while the page is not written
        assert r.status_code == 200 or "index.html" in r.json()["error"]
        r = httpx.post(url + "api/sessions", json={"config": {"seed": "cli"}}, timeout=30)
        assert r.status_code == 200 and r.json()["state"]["metrics"]["epoch"] == 0
        port = url.rsplit(":", 1)[1].strip("/")
        busy = subprocess.run([sys.executable, "-m", "neurona", "playground", "--port", port,
                               "--no-browser"], capture_output=True, text=True, timeout=60)
        assert busy.returncode == 1 and "in use" in busy.stderr, busy.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_cli_defaults_bind_this_machine_only():
    from neurona.cli import build_parser
    args = build_parser().parse_args(["playground"])
    assert (args.host, args.port, args.no_browser) == ("127.0.0.1", 8000, False)
    assert args.func.__name__ == "cmd_playground"
