"""The playground server's sessions: one engine per browser tab, bounded in number and time.

Every tab that opens the page creates its own *session*: a random id and a
:class:`~neurona.playground.engine.Playground` (the network, its data, its training state).
Tabs never share an engine, so two students -- or two tabs of one student -- train
independently.

A server has limited memory and CPU, so the store bounds what tabs may hold:

* at most ``max_sessions`` sessions.  When a new tab comes and the store is full, the
  session that has waited longest without a request (and has no live WebSocket) is freed
  to make room; when every session is in use, creating one fails with
  :class:`StoreFull` (the server answers 503);
* a session that receives no request for ``idle_timeout_s`` seconds is freed (a closed tab
  sends nothing, so this is how its memory comes back).

The time source is a parameter (``clock``), so tests can move time forward by hand
instead of sleeping.

Each session has a :class:`threading.Lock`.  HTTP requests and the WebSocket play loop
run engine calls in worker threads; whoever holds ``session.lock`` is the only one
touching that engine, so a "step" never interleaves with a "set learning rate".
"""
from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Session", "SessionStore", "SessionNotFound", "StoreFull"]


class SessionNotFound(KeyError):
    """No session has this id (never made, deleted, or freed after being idle)."""

    def __str__(self) -> str:          # KeyError would print the message with quotes
        return str(self.args[0]) if self.args else "unknown session"


class StoreFull(RuntimeError):
    """Every session slot is in use by a tab with a live connection."""


@dataclass
class Session:
    """One tab's state.

    ``engine``       the Playground this tab trains
    ``lock``         held while a thread calls the engine (see the module docstring)
    ``last_used``    clock reading of the last request (for idle freeing)
    ``connections``  live WebSockets; a session with one is never freed as idle
    ``closed``       set when the session is deleted or freed, so a running play loop stops
    """

    id: str
    engine: Any
    last_used: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    connections: int = 0
    closed: bool = False


class SessionStore:
    """Sessions by id: ``create``, ``get``, ``delete``, with a size and an idle limit.

    >>> store = SessionStore(factory=dict, max_sessions=2, idle_timeout_s=600)
    >>> s = store.create({"activation": "relu"})
    >>> store.get(s.id) is s
    True

    ``factory(config)`` makes the engine of a new session; it runs *before* anything is
    freed, so a bad config (``ValueError`` from the engine) costs no other tab its session.
    """

    def __init__(self, factory: Callable[[dict | None], Any], max_sessions: int = 32,
                 idle_timeout_s: float = 600.0, clock: Callable[[], float] = time.monotonic):
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be at least 1, got {max_sessions}")
        if idle_timeout_s <= 0:
            raise ValueError(f"idle_timeout_s must be positive (seconds), got {idle_timeout_s}")
        self.factory = factory
        self.max_sessions = int(max_sessions)
        self.idle_timeout_s = float(idle_timeout_s)
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._guard = threading.Lock()      # protects the dict itself, not the engines

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, sid: str) -> bool:
        return sid in self._sessions

    # ------------------------------------------------------------------ the three verbs
    def create(self, config: dict | None = None) -> Session:
        """A new session with a fresh engine built from ``config`` (None: the defaults)."""
        engine = self.factory(config)                  # may raise ValueError: nothing freed yet
        with self._guard:
            self._free_idle_locked()
            if len(self._sessions) >= self.max_sessions:
                victim = self._oldest_idle_locked()
                if victim is None:
                    raise StoreFull(
                        f"the playground server already has {self.max_sessions} open sessions, "
                        f"all in use; close a tab (or restart the server with a larger "
                        f"max_sessions) and reload")
                self._drop_locked(victim.id)
            sid = secrets.token_urlsafe(12)
            session = Session(id=sid, engine=engine, last_used=self.clock())
            self._sessions[sid] = session
            return session

    def get(self, sid: str) -> Session:
        """The session with this id, marked as just used; :class:`SessionNotFound` if none."""
        with self._guard:
            self._free_idle_locked()
            session = self._sessions.get(sid)
            if session is None:
                raise SessionNotFound(
                    f"unknown session {sid!r}: it was never created, was deleted, or was "
                    f"freed after {self.idle_timeout_s:g} s without requests; reload the page "
                    f"to start a new one")
            session.last_used = self.clock()
            return session

    def delete(self, sid: str) -> None:
        """Free a session now (:class:`SessionNotFound` if there is none with this id)."""
        with self._guard:
            if sid not in self._sessions:
                raise SessionNotFound(f"unknown session {sid!r}: nothing to delete")
            self._drop_locked(sid)

    # ------------------------------------------------------------------ housekeeping
    def touch(self, session: Session) -> None:
        """Mark a session as used now (the play loop calls this on every frame)."""
        session.last_used = self.clock()

    def free_idle(self) -> list[str]:
        """Free every session idle for longer than ``idle_timeout_s``; return their ids."""
        with self._guard:
            return self._free_idle_locked()

    def _free_idle_locked(self) -> list[str]:
        now = self.clock()
        stale = [s.id for s in self._sessions.values()
                 if s.connections == 0 and now - s.last_used > self.idle_timeout_s]
        for sid in stale:
            self._drop_locked(sid)
        return stale

    def _oldest_idle_locked(self) -> Session | None:
        idle = [s for s in self._sessions.values() if s.connections == 0]
        return min(idle, key=lambda s: s.last_used) if idle else None

    def _drop_locked(self, sid: str) -> None:
        session = self._sessions.pop(sid)
        session.closed = True
