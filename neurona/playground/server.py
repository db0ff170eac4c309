"""The playground's web server: a small JSON API and a WebSocket around the engine.

The page (``static/index.html``) runs in the browser; every number it shows comes from a
:class:`~neurona.playground.engine.Playground` trained here, in neurona.  This module only
moves requests to the engine and answers back; it holds no training logic.

    app = create_app(max_sessions=32, idle_timeout_s=600)   # a Starlette (ASGI) app
    uvicorn.run(app, host="127.0.0.1", port=8000)            # what `neurona playground` does

HTTP API (JSON in, JSON out; ``sid`` is the id ``POST /api/sessions`` returns)::

    GET  /                               the page;  GET /static/{file}: its assets
    POST /api/sessions                   {"config": {...}}       -> {"id", "state"}
    GET  /api/sessions/{sid}                                     -> {"state"}
    POST /api/sessions/{sid}/config      {key: value, ...}       -> {"state"}
    POST /api/sessions/{sid}/step        {"epochs": n} (1..1000) -> {"metrics", "network"}
    POST /api/sessions/{sid}/reset       {"same_init": true}     -> {"state"}
    POST /api/sessions/{sid}/regenerate                          -> {"state"}
    POST /api/sessions/{sid}/weight      {"layer", "out", "in", "value"} -> {"state"}
    POST /api/sessions/{sid}/bias        {"layer", "index", "value"}     -> {"state"}
    POST /api/sessions/{sid}/points      {"x1", "x2", "label", "part"}   -> {"state"}
    POST /api/sessions/{sid}/upload      CSV text x1,x2,label (<= 100 kB) -> {"state"}
    GET  /api/sessions/{sid}/grid?density=100  -> {"density", "output", "neurons", ["classes"]}
    GET  /api/sessions/{sid}/export      a zip: playground_model.py / .safetensors / _data.csv
    DELETE /api/sessions/{sid}                                   -> {"deleted": sid}

Errors are ``{"error": "what was wrong and how to fix it"}`` with status 400 (a bad value:
the engine's ``ValueError``), 403 (a request from another web site), 404 (unknown
session), 413 (too large), 503 (too many sessions).  A request that fails changes
nothing: the session keeps its old state.

Grids travel as base64 text of little-endian float32 bytes, row-major (row 0 is x2 = +6,
column 0 is x1 = -6), so a (100, 100) heatmap is 40,000 bytes instead of a long JSON list,
and NaN (a diverged network) survives the trip.  In JavaScript::

    new Float32Array(Uint8Array.from(atob(b64), c => c.charCodeAt(0)).buffer)

WebSocket ``/ws/{sid}`` (live training).  The page sends ``{"type": "play"}`` (optionally
with ``"density"``: grid points per side, default 100), ``{"type": "pause"}``,
``{"type": "step", "epochs": n}``, ``{"type": "fps", "value": v}``;
the server answers ``{"type": "frame", "metrics", "network", "grid"}`` frames (at most
``fps`` <= 30 per second), ``{"type": "paused", "epoch"}`` once a pause has taken effect,
``{"type": "stopped", "reason", "code", "epoch"}`` when stopEpoch / stopLoss is reached or
the loss diverges, and ``{"type": "error", "error"}`` for a message it cannot use.

Playing, training and drawing are decoupled: each frame trains as many epochs as fit in
the time a frame leaves after drawing (measured, so a slow grid or a big network gives
fewer epochs per frame, a tiny one more), then sends one frame.  Engine calls run in a
worker thread (the event loop stays free to read "pause") under the session's lock (see
:mod:`.sessions`).
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
import math
import time
import zipfile
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from .sessions import Session, SessionNotFound, SessionStore, StoreFull

__all__ = ["create_app", "encode_array", "encode_grid", "grid_json", "STATIC_DIR"]

log = logging.getLogger("neurona.playground")

STATIC_DIR = Path(__file__).resolve().with_name("static")
MAX_UPLOAD_BYTES = 100_000        # a CSV upload (2000 rows of x1,x2,label fit easily)
MAX_JSON_BYTES = 100_000          # any JSON body
MAX_STEP_EPOCHS = 1000            # one "step" request
MAX_FPS = 30                      # frames per second while playing
DENSITIES = (2, 200)              # grid points per side


# ----------------------------------------------------------------------------- encoding

class ApiError(Exception):
    """A request the server refuses: becomes ``{"error": message}`` with this status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def json_safe(obj: Any) -> Any:
    """``obj`` with NumPy scalars/arrays turned into Python values and NaN/Inf into None.

    JSON has no NaN; a diverged network has NaN weights, and the page draws ``null`` grey.
    """
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    return obj


def dumps(obj: Any) -> str:
    """Compact JSON of :func:`json_safe` (obj)."""
    return json.dumps(json_safe(obj), separators=(",", ":"), allow_nan=False)


class SafeJSONResponse(JSONResponse):
    """A JSONResponse that writes NaN/Inf as null instead of failing."""

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")


def encode_array(a) -> str:
    """Base64 text of ``a`` as little-endian float32, row-major (NaN kept)."""
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


def encode_grid(grid: dict) -> dict:
    """``engine.grid()`` with every array base64-encoded (see the module docstring)."""
    out = {"density": int(grid["density"]), "output": encode_array(grid["output"]),
           "neurons": {str(k): encode_array(v) for k, v in grid.get("neurons", {}).items()}}
    if grid.get("classes") is not None:
        out["classes"] = [encode_array(c) for c in grid["classes"]]
    return out


def grid_json(grid: dict) -> str:
    """``json.dumps(encode_grid(grid))``, written by hand.

    Base64 text needs no escaping, and a frame of a 6 x 8 network holds ~3 MB of it:
    ``json.dumps`` would scan all of it once more (as long as the encoding itself).
    """
    e = encode_grid(grid)
    parts = [f'"density":{e["density"]}', f'"output":"{e["output"]}"',
             '"neurons":{' + ",".join(f'{json.dumps(k)}:"{v}"' for k, v in e["neurons"].items())
             + "}"]
    if "classes" in e:
        parts.append('"classes":[' + ",".join(f'"{c}"' for c in e["classes"]) + "]")
    return "{" + ",".join(parts) + "}"


def frame_json(metrics: dict, network: dict, grid: dict) -> str:
    """The text of a WebSocket frame: {"type": "frame", "metrics", "network", "grid"}."""
    return (f'{{"type":"frame","metrics":{dumps(metrics)},"network":{dumps(network)},'
            f'"grid":{grid_json(grid)}}}')


# ----------------------------------------------------------------------------- requests

async def read_body(request: Request, limit: int, what: str) -> bytes:
    """The request body, refusing with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the {what} is {int(declared):,} bytes; the limit is "
                            f"{limit:,} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the {what} is larger than the limit of {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json_object(text: str | bytes, example: str) -> dict:
    """A JSON object from ``text`` (empty text: ``{}``); ApiError(400) saying what is wrong."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "the body is not UTF-8 text; send JSON such as "
                                f"{example}") from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ApiError(400, f"the body is not valid JSON ({e.msg} at line {e.lineno} "
                            f"column {e.colno}); send an object such as {example}") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"the body must be a JSON object such as {example}, "
                            f"got a {type(data).__name__}")
    return data


async def json_body(request: Request, example: str = '{"epochs": 10}') -> dict:
    return parse_json_object(await read_body(request, MAX_JSON_BYTES, "JSON body"), example)


def only_keys(body: dict, allowed: tuple, where: str) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(400, f"{where} takes the keys {', '.join(allowed)}; unknown: "
                            f"{', '.join(unknown)}")


def int_field(body: dict, key: str, default=None, lo=None, hi=None) -> int:
    """``body[key]`` as an int in [lo, hi] (a JSON integer; true/false are refused)."""
    value = body.get(key, default)
    if value is None:
        raise ApiError(400, f"missing {key!r}: an integer")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ApiError(400, f"{key} must be an integer, got {value!r}")
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ApiError(400, f"{key} must be between {lo} and {hi}, got {value}")
    return value


def float_field(body: dict, key: str) -> float:
    """``body[key]`` as a finite float."""
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value):
        raise ApiError(400, f"{key} must be a finite number, got {value!r}")
    return float(value)


# ----------------------------------------------------------------------------- engine calls

async def call_engine(session: Session, fn: Callable, *args, **kwargs):
    """``fn(*args)`` in a worker thread, holding the session's lock.

    The engine's ``ValueError`` / ``IndexError`` (a bad value from the user) becomes a 400
    answer; the engine promises to change nothing when it raises.
    """
    def locked():
        with session.lock:
            return fn(*args, **kwargs)
    try:
        return await run_in_threadpool(locked)
    except (ValueError, IndexError) as e:
        raise ApiError(400, str(e)) from None


def get_session(request: Request) -> Session:
    try:
        return request.app.state.store.get(request.path_params["sid"])
    except SessionNotFound as e:
        raise ApiError(404, str(e)) from None


def with_state(session: Session, fn: Callable | None = None, *args):
    """A function for :func:`call_engine`: run ``fn(*args)`` (if any), return ``{"state"}``."""
    engine = session.engine

    def work():
        if fn is not None:
            fn(*args)
        return {"state": engine.state()}
    return work


# ----------------------------------------------------------------------------- endpoints

async def index(request: Request):
    page = request.app.state.static_dir / "index.html"
    if not page.is_file():
        raise ApiError(404, f"the playground page is missing: {page} does not exist. Its files "
                            f"ship in neurona/playground/static/; reinstall neurona "
                            f"(pip install -e '.[playground]') or check the checkout")
    return FileResponse(page, headers={"Cache-Control": "no-cache"})


async def create_session(request: Request):
    body = await json_body(request, '{"config": {"dataset": "spiral"}}')
    only_keys(body, ("config",), "POST /api/sessions")
    config = body.get("config")
    if config is not None and not isinstance(config, dict):
        raise ApiError(400, f"config must be an object such as {{\"dataset\": \"xor\"}}, "
                            f"got {type(config).__name__}")
    store: SessionStore = request.app.state.store
    try:
        session = await run_in_threadpool(store.create, config)
    except ValueError as e:
        raise ApiError(400, str(e)) from None
    except StoreFull as e:
        raise ApiError(503, str(e)) from None
    state = await call_engine(session, session.engine.state)
    return SafeJSONResponse({"id": session.id, "state": state})


async def read_state(request: Request):
    session = get_session(request)
    return SafeJSONResponse(await call_engine(session, with_state(session)))


async def set_config(request: Request):
    session = get_session(request)
    changes = await json_body(request, '{"learningRate": 0.1}')
    return SafeJSONResponse(await call_engine(
        session, with_state(session, lambda: session.engine.set_config(**changes))))


async def step(request: Request):
    session = get_session(request)
    body = await json_body(request)
    only_keys(body, ("epochs",), "step")
    epochs = int_field(body, "epochs", 1, 1, MAX_STEP_EPOCHS)
    engine = session.engine

    def work():
        return {"metrics": engine.step(epochs), "network": engine.network()}
    return SafeJSONResponse(await call_engine(session, work))


async def reset(request: Request):
    session = get_session(request)
    body = await json_body(request, '{"same_init": true}')
    only_keys(body, ("same_init",), "reset")
    same_init = body.get("same_init", True)
    if not isinstance(same_init, bool):
        raise ApiError(400, f"same_init must be true or false, got {same_init!r}")
    return SafeJSONResponse(await call_engine(
        session, with_state(session, session.engine.reset, same_init)))


async def regenerate(request: Request):
    session = get_session(request)
    await json_body(request, "{}")
    return SafeJSONResponse(await call_engine(
        session, with_state(session, session.engine.regenerate)))


async def set_weight(request: Request):
    session = get_session(request)
    body = await json_body(request, '{"layer": 1, "out": 0, "in": 1, "value": 0.5}')
    only_keys(body, ("layer", "out", "in", "value"), "weight")
    args = (int_field(body, "layer"), int_field(body, "out"), int_field(body, "in"),
            float_field(body, "value"))
    return SafeJSONResponse(await call_engine(
        session, with_state(session, session.engine.set_weight, *args)))


async def set_bias(request: Request):
    session = get_session(request)
    body = await json_body(request, '{"layer": 1, "index": 0, "value": 0.1}')
    only_keys(body, ("layer", "index", "value"), "bias")
    args = (int_field(body, "layer"), int_field(body, "index"), float_field(body, "value"))
    return SafeJSONResponse(await call_engine(
        session, with_state(session, session.engine.set_bias, *args)))


async def add_point(request: Request):
    session = get_session(request)
    body = await json_body(request, '{"x1": 1.5, "x2": -2, "label": 1, "part": "train"}')
    only_keys(body, ("x1", "x2", "label", "part"), "points")
    part = body.get("part", "train")
    if part not in ("train", "test"):
        raise ApiError(400, f"part must be \"train\" or \"test\", got {part!r}")
    args = (float_field(body, "x1"), float_field(body, "x2"), float_field(body, "label"), part)
    return SafeJSONResponse(await call_engine(
        session, with_state(session, session.engine.add_point, *args)))


async def upload(request: Request):
    session = get_session(request)
    raw = await read_body(request, MAX_UPLOAD_BYTES, "CSV upload")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError(400, "the upload is not UTF-8 text; send a CSV file of lines "
                            "x1,x2,label") from None
    if not text.strip():
        raise ApiError(400, "the upload is empty; send a CSV file of lines x1,x2,label")
    return SafeJSONResponse(await call_engine(
        session, with_state(session, session.engine.load_csv, text)))


def parse_density(value: str | None) -> int:
    if value is None:
        return 100
    lo, hi = DENSITIES
    if not value.strip().isdigit() or not lo <= int(value) <= hi:
        raise ApiError(400, f"density must be an integer from {lo} to {hi} (points per side "
                            f"of the grid), got {value!r}")
    return int(value)


async def grid(request: Request):
    session = get_session(request)
    density = parse_density(request.query_params.get("density"))
    result = await call_engine(session, session.engine.grid, density)
    return Response(grid_json(result), media_type="application/json")


def export_zip(export: dict) -> bytes:
    """The zip the export button downloads, from ``engine.export()``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("playground_model.py", export["script"])
        z.writestr("playground_model.safetensors", export["weights"])
        z.writestr("playground_data.csv", export["data"])
    return buffer.getvalue()


async def export(request: Request):
    session = get_session(request)
    data = await call_engine(session, session.engine.export)
    return Response(export_zip(data), media_type="application/zip", headers={
        "Content-Disposition": 'attachment; filename="playground_model.zip"'})


async def delete_session(request: Request):
    sid = request.path_params["sid"]
    try:
        request.app.state.store.delete(sid)
    except SessionNotFound as e:
        raise ApiError(404, str(e)) from None
    return SafeJSONResponse({"deleted": sid})


# ----------------------------------------------------------------------------- WebSocket

def stop_reason(config: dict, metrics: dict) -> tuple[str, str] | None:
    """(code, message) when training must stop after these metrics, else None."""
    if metrics.get("diverged"):
        return "diverged", metrics.get("message") or \
            "learning rate too high: the loss is NaN/Inf; lower it and press reset"
    stop_epoch = int(config.get("stopEpoch") or 0)
    if stop_epoch and metrics["epoch"] >= stop_epoch:
        return "stopEpoch", f"reached epoch {metrics['epoch']} (stopEpoch = {stop_epoch})"
    stop_loss = float(config.get("stopLoss") or 0)
    loss = metrics.get("loss_test")
    if stop_loss > 0 and loss is not None and loss <= stop_loss:
        return "stopLoss", (f"the test loss {loss:.3f} reached stopLoss = {stop_loss:g} "
                            f"at epoch {metrics['epoch']}")
    return None


class Player:
    """One WebSocket: reads the page's messages and, while playing, sends frames."""

    def __init__(self, websocket: WebSocket, store: SessionStore, session: Session):
        self.ws, self.store, self.session = websocket, store, session
        self.fps = MAX_FPS
        self.density = 100
        self.playing = False
        self.task: asyncio.Task | None = None
        self.send_lock = asyncio.Lock()
        self.seconds_per_epoch: float | None = None   # measured, smoothed

    async def send(self, message: dict | str) -> None:
        """Send a message (a dict, or JSON text already made, such as a frame)."""
        text = message if isinstance(message, str) else dumps(message)
        async with self.send_lock:
            try:
                await self.ws.send_text(text)
            except (WebSocketDisconnect, RuntimeError):
                self.playing = False      # the tab is gone: nothing to tell it any more

    async def run(self) -> None:
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None and message.get("bytes") is not None:
                    text = message["bytes"].decode("utf-8", "replace")
                self.store.touch(self.session)
                try:
                    await self.handle(parse_json_object(text or "", '{"type": "play"}'))
                except ApiError as e:
                    await self.send({"type": "error", "error": e.message})
        finally:
            self.playing = False
            if self.task is not None:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await self.task

    async def handle(self, msg: dict) -> None:
        kind = msg.get("type")
        if self.session.closed and kind in ("play", "step"):
            raise ApiError(404, "this session was closed (deleted, or freed while idle); "
                                "reload the page to start a new one")
        if kind == "play":
            if "density" in msg:
                self.density = parse_density(str(msg["density"]))
            if self.task is None or self.task.done():
                self.playing = True
                self.task = asyncio.create_task(self.play_loop())
        elif kind == "pause":
            await self.pause()
        elif kind == "step":
            epochs = int_field(msg, "epochs", 1, 1, MAX_STEP_EPOCHS)
            if self.playing:
                await self.pause()
            frame, _, _ = await self.train_and_draw(epochs, check_stop=False)
            await self.send(frame)
        elif kind == "fps":
            value = msg.get("value")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    not math.isfinite(value) or value <= 0:
                raise ApiError(400, f"fps must be a positive number (at most {MAX_FPS}), "
                                    f"got {value!r}")
            self.fps = min(float(value), MAX_FPS)
        else:
            raise ApiError(400, f"unknown message type {kind!r}; the server understands "
                                f"play, pause, step, fps")

    async def pause(self) -> None:
        """Stop playing; the frame being computed is still sent, then ``paused``."""
        self.playing = False
        if self.task is not None:
            await self.task
            self.task = None
        await self.send({"type": "paused", "epoch": int(self.session.engine.epoch)})

    async def train_and_draw(self, epochs: int, check_stop: bool, first: bool = False):
        """Train up to ``epochs`` epochs and draw one frame, in a worker thread.

        Returns (frame JSON text or None, (code, reason) or None, seconds spent training);
        the frame is encoded here too, so the event loop never spends a frame's time on it.
        With ``check_stop`` the stop conditions end the play: ``engine.step`` never trains
        past ``stopEpoch`` or past the epoch where the test loss reaches ``stopLoss``, and on
        the ``first`` frame of a play nothing is trained when a condition already holds
        (press play at the stop epoch: "stopped" at once).
        """
        engine, density = self.session.engine, self.density

        def work():
            with self.session.lock:
                config = dict(engine.config)
                if check_stop and first:
                    already = stop_reason(config, engine.metrics())
                    if already is not None:
                        return None, already, 0.0
                t0 = time.perf_counter()
                metrics = engine.step(epochs)   # the engine itself stops at stopEpoch/stopLoss
                train_s = time.perf_counter() - t0
                network, grid = engine.network(), engine.grid(density)
            frame = frame_json(metrics, network, grid)      # encoding needs no lock
            return frame, stop_reason(config, metrics) if check_stop else None, train_s
        return await run_in_threadpool(work)

    def epochs_per_frame(self, frame_s: float, train_s: float) -> int:
        """How many epochs to train next frame: fill the frame's time left after drawing.

        ``frame_s`` is the last frame's total time, ``train_s`` its training part; drawing
        takes the rest.  Training always gets at least half a frame period, and a frame at
        least one epoch (a big net then simply shows fewer frames per second).
        """
        period = 1.0 / self.fps
        budget = max(period - (frame_s - train_s), period / 2)
        return int(min(max(budget / max(self.seconds_per_epoch, 1e-6), 1), MAX_STEP_EPOCHS))

    async def play_loop(self) -> None:
        epochs, first = 1, True
        try:
            while self.playing and not self.session.closed:
                t0 = time.perf_counter()
                before = self.session.engine.epoch
                frame, stop, train_s = await self.train_and_draw(epochs, True, first)
                first = False
                if frame is not None:
                    await self.send(frame)
                    self.store.touch(self.session)
                    done = max(self.session.engine.epoch - before, 1)
                    spe, last = self.seconds_per_epoch, train_s / done
                    self.seconds_per_epoch = last if spe is None else 0.7 * spe + 0.3 * last
                    epochs = self.epochs_per_frame(time.perf_counter() - t0, train_s)
                if stop is not None or frame is None:
                    self.playing = False
                    code, reason = stop or ("stopped", "nothing left to train")
                    await self.send({"type": "stopped", "code": code, "reason": reason,
                                     "epoch": int(self.session.engine.epoch)})
                    return
                await asyncio.sleep(max(1.0 / self.fps - (time.perf_counter() - t0), 0.0))
            if self.session.closed and self.playing:
                self.playing = False
                await self.send({"type": "stopped", "code": "closed",
                                 "reason": "this session was closed; reload the page"})
        except WebSocketDisconnect:
            self.playing = False
        except Exception as e:      # an engine bug must not kill the connection silently
            if self.playing:
                log.exception("play loop failed")
                self.playing = False
                with contextlib.suppress(Exception):
                    await self.send({"type": "error", "error": f"training stopped: {e}"})
        finally:
            self.seconds_per_epoch = None


async def websocket_endpoint(websocket: WebSocket):
    store: SessionStore = websocket.app.state.store
    await websocket.accept()
    try:
        session = store.get(websocket.path_params["sid"])
    except SessionNotFound as e:
        await websocket.send_text(dumps({"type": "error", "error": str(e)}))
        await websocket.close(code=4404)
        return
    session.connections += 1
    try:
        await Player(websocket, store, session).run()
    finally:
        session.connections -= 1
        store.touch(session)


# ----------------------------------------------------------------------------- the app

class SameOriginOnly:
    """ASGI middleware: refuse requests that a web page of another site sends.

    The server listens on 127.0.0.1, but any web site open in the student's browser could
    still send requests to it (create sessions, open a WebSocket).  Browsers mark such
    requests with an ``Origin`` header naming the other site; the playground's own page
    has Origin = this server.  Tools (curl, Python) send no Origin and are let through.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            headers = dict(scope["headers"])
            origin = headers.get(b"origin", b"").decode("latin-1")
            host = headers.get(b"host", b"").decode("latin-1")
            if origin and urlsplit(origin).netloc != host:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 4403})
                    return
                response = SafeJSONResponse(
                    {"error": f"request from another site ({origin}) refused: only the "
                              f"playground page served at {host} may use this server"},
                    status_code=403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def api_error(request, exc: ApiError):
    return SafeJSONResponse({"error": exc.message}, status_code=exc.status)


async def http_error(request, exc: HTTPException):
    message = exc.detail
    if exc.status_code == 404:
        message = f"nothing at {request.url.path}; the API lives under /api/sessions"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    return SafeJSONResponse({"error": message}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))


def create_app(max_sessions: int = 32, idle_timeout_s: float = 600, *,
               clock: Callable[[], float] = time.monotonic,
               static_dir: str | Path | None = None,
               engine_factory: Callable[[dict | None], Any] | None = None) -> Starlette:
    """The playground's Starlette app.

    ``max_sessions`` / ``idle_timeout_s`` bound the sessions (see :mod:`.sessions`);
    ``clock`` is their time source (tests pass a fake one); ``static_dir`` holds the page
    (default: the package's ``static/`` folder); ``engine_factory(config)`` makes a
    session's engine (default: ``Playground(config)``).
    """
    if engine_factory is None:
        from .engine import Playground
        engine_factory = Playground
    store = SessionStore(engine_factory, max_sessions=max_sessions,
                         idle_timeout_s=idle_timeout_s, clock=clock)
    static = Path(static_dir) if static_dir is not None else STATIC_DIR
    sid = "/api/sessions/{sid}"
    routes = [
        Route("/", index),
        Mount("/static", app=StaticFiles(directory=static, check_dir=False), name="static"),
        Route("/api/sessions", create_session, methods=["POST"]),
        Route(sid, read_state, methods=["GET"]),
        Route(sid, delete_session, methods=["DELETE"]),
        Route(sid + "/config", set_config, methods=["POST"]),
        Route(sid + "/step", step, methods=["POST"]),
        Route(sid + "/reset", reset, methods=["POST"]),
        Route(sid + "/regenerate", regenerate, methods=["POST"]),
        Route(sid + "/weight", set_weight, methods=["POST"]),
        Route(sid + "/bias", set_bias, methods=["POST"]),
        Route(sid + "/points", add_point, methods=["POST"]),
        Route(sid + "/upload", upload, methods=["POST"]),
        Route(sid + "/grid", grid, methods=["GET"]),
        Route(sid + "/export", export, methods=["GET"]),
        WebSocketRoute("/ws/{sid}", websocket_endpoint),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async def reap():                    # free idle sessions even when nobody asks
            while True:
                await asyncio.sleep(min(60.0, store.idle_timeout_s / 2))
                store.free_idle()
        task = asyncio.create_task(reap())
        try:
            yield
        finally:
            task.cancel()

    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(SameOriginOnly)],
                    exception_handlers={ApiError: api_error, HTTPException: http_error})
    app.state.store = store
    app.state.static_dir = static
    return app
