"""The gateway side of the emulator: sessions, connections, opcodes and dispatch.

A *session* outlives connections (RESUME reattaches to it); a *connection* is one websocket.
Events go through a per-connection queue so synchronous test helpers can dispatch, and so
sequence numbers are assigned in the order events are sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from .server import DiscordEmulator

try:  # discord.py asks for zstd-stream only when it can decompress it; mirror that.
    import zstandard as _zstd  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the environment
    _zstd = None

_log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE_UPDATE, VOICE_STATE_UPDATE = 0, 1, 2, 3, 4
RESUME, RECONNECT, REQUEST_GUILD_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 6, 7, 8, 9, 10, 11

GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
GUILD_SCHEDULED_EVENTS = 1 << 16
MESSAGE_CONTENT = 1 << 15
PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT

# Which intent an event needs; events not listed are always sent.
_EVENT_INTENTS = {
    "GUILD_CREATE": GUILDS,
    "GUILD_UPDATE": GUILDS,
    "GUILD_DELETE": GUILDS,
    "GUILD_ROLE_CREATE": GUILDS,
    "GUILD_ROLE_UPDATE": GUILDS,
    "GUILD_ROLE_DELETE": GUILDS,
    "CHANNEL_CREATE": GUILDS,
    "CHANNEL_UPDATE": GUILDS,
    "CHANNEL_DELETE": GUILDS,
    "THREAD_CREATE": GUILDS,
    "THREAD_UPDATE": GUILDS,
    "THREAD_DELETE": GUILDS,
    "GUILD_MEMBER_ADD": GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": GUILD_MEMBERS,
    "MESSAGE_CREATE": GUILD_MESSAGES,
    "MESSAGE_UPDATE": GUILD_MESSAGES,
    "MESSAGE_DELETE": GUILD_MESSAGES,
    "GUILD_SCHEDULED_EVENT_CREATE": GUILD_SCHEDULED_EVENTS,
    "GUILD_SCHEDULED_EVENT_UPDATE": GUILD_SCHEDULED_EVENTS,
    "GUILD_SCHEDULED_EVENT_DELETE": GUILD_SCHEDULED_EVENTS,
}

# Events whose data is the guild itself (its id is "id", not "guild_id").
_GUILD_ITSELF = frozenset({"GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"})


def shard_for(guild_id: int, shard_count: int) -> int:
    """Return the shard that receives a guild's events: (guild_id >> 22) % shard_count."""
    return (int(guild_id) >> 22) % shard_count


def event_guild_id(event: str, data: Any) -> int | None:
    """Return the guild an event belongs to (None for events outside any guild)."""
    if not isinstance(data, dict):
        return None
    raw = data.get("id") if event in _GUILD_ITSELF else data.get("guild_id")
    return None if raw is None else int(raw)


class _Compressor:
    """Transport compression for one connection, as the ``compress`` query asked."""

    def __init__(self, kind: str | None) -> None:
        self.kind = kind
        self._zlib = zlib.compressobj() if kind == "zlib-stream" else None
        self._zstd = (
            _zstd.ZstdCompressor().compressobj() if kind == "zstd-stream" and _zstd else None
        )

    def encode(self, text: str) -> str | bytes:
        data = text.encode()
        if self._zlib is not None:
            # Each message ends on a sync flush (00 00 ff ff): what discord.py waits for.
            return self._zlib.compress(data) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
        if self._zstd is not None:
            return self._zstd.compress(data) + self._zstd.flush(_zstd.COMPRESSOBJ_FLUSH_BLOCK)
        return text


@dataclass
class GatewaySession:
    """A gateway session: identity, intents, sequence and what was sent (for RESUME)."""

    session_id: str
    intents: int
    shard: list[int] | None
    seq: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    connection: GatewayConnection | None = None
    alive: bool = True
    resumes: int = 0

    @property
    def shard_id(self) -> int:
        """The session's shard id (an unsharded session is shard 0 of 1)."""
        return int(self.shard[0]) if self.shard else 0

    @property
    def shard_count(self) -> int:
        """The shard count the session identified with (1 when unsharded)."""
        return int(self.shard[1]) if self.shard else 1

    def wants(self, event: str) -> bool:
        """Whether the session's intents ask for this event."""
        needed = _EVENT_INTENTS.get(event)
        return needed is None or bool(self.intents & needed)


class GatewayConnection:
    """One websocket: an outbound queue drained by a writer task."""

    def __init__(self, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.ws = ws
        self.compressor = _Compressor(compress)
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.session: GatewaySession | None = None
        self.heartbeats = 0
        self.closed_by_server = False
        self.writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        while True:
            payload = await self.queue.get()
            try:
                if payload is None:
                    return
                if self.ws.closed:
                    continue
                data = self.compressor.encode(json.dumps(payload, separators=(",", ":")))
                try:
                    if isinstance(data, bytes):
                        await self.ws.send_bytes(data)
                    else:
                        await self.ws.send_str(data)
                except (ConnectionError, RuntimeError):
                    _log.debug("gateway send failed; connection is closing")
            finally:
                self.queue.task_done()

    def send(self, payload: dict[str, Any]) -> None:
        """Queue a payload for this connection."""
        self.queue.put_nowait(payload)

    async def close(self, code: int, message: str = "") -> None:
        """Close the websocket with a close code and stop the writer."""
        await self.queue.join()
        await self.ws.close(code=code, message=message.encode())
        await self.stop()

    async def stop(self) -> None:
        """Stop the writer task."""
        if not self.writer.done():
            self.queue.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError):
                await self.writer


class Gateway:
    """The gateway endpoint of a DiscordEmulator."""

    def __init__(self, emu: DiscordEmulator, heartbeat_interval: int) -> None:
        self.emu = emu
        self.heartbeat_interval = heartbeat_interval
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: set[GatewayConnection] = set()
        self.identifies = 0
        self.resumes = 0
        self.heartbeats = 0
        # False models a zombied connection: beats go unanswered and the client reconnects.
        self.ack_heartbeats = True
        self.connects: list[dict[str, str]] = []
        self.received: list[dict[str, Any]] = []
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        # One session per shard: (shard_id, shard_count) -> the session that identified last.
        self.shard_owner: dict[tuple[int, int], str] = {}
        # (shard, old session id, new session id) each time an IDENTIFY took a shard over.
        self.shard_takeovers: list[tuple[tuple[int, int], str, str]] = []

    # --- dispatching ------------------------------------------------------------------

    def live_sessions(self) -> list[GatewaySession]:
        """Return the sessions that can still receive events."""
        return [s for s in self.sessions.values() if s.alive]

    def sessions_for_guild(self, guild_id: int | None) -> list[GatewaySession]:
        """Return the live sessions that receive a guild's events (its shard's session).

        Events outside any guild (guild_id None) go to shard 0, as DMs do on Discord.
        """
        out = []
        for s in self.live_sessions():
            if self.shard_owner.get((s.shard_id, s.shard_count)) != s.session_id:
                continue
            wanted = 0 if guild_id is None else shard_for(guild_id, s.shard_count)
            if s.shard_id == wanted:
                out.append(s)
        return out

    def connected_shards(self) -> list[tuple[int, int]]:
        """Return (shard_id, shard_count) of every shard with a live, connected session."""
        return sorted(
            (s.shard_id, s.shard_count)
            for s in self.live_sessions()
            if s.connection is not None
            and self.shard_owner.get((s.shard_id, s.shard_count)) == s.session_id
        )

    def dispatch(
        self, event: str, data: dict[str, Any], session: GatewaySession | None = None
    ) -> int:
        """Send a DISPATCH event to one session, or to the shard its guild belongs to.

        Return how many sessions got it.
        """
        targets = (
            [session]
            if session is not None
            else self.sessions_for_guild(event_guild_id(event, data))
        )
        sent = 0
        for target in targets:
            if not target.wants(event):
                continue
            target.seq += 1
            payload = {"op": DISPATCH, "t": event, "s": target.seq, "d": data}
            target.history.append(payload)
            if target.connection is not None:
                target.connection.send(payload)
            sent += 1
        return sent

    async def flush(self) -> None:
        """Wait until every queued gateway payload has been written to its socket."""
        for conn in list(self.connections):
            await conn.queue.join()

    async def drop(self, code: int = 4000, message: str = "Unknown error.") -> None:
        """Close every connection with a close code (4000 lets discord.py RESUME)."""
        for conn in list(self.connections):
            conn.closed_by_server = True
            await conn.close(code, message)

    def send_op(self, op: int, data: Any = None) -> None:
        """Send a non-dispatch opcode (RECONNECT 7, INVALID_SESSION 9, HEARTBEAT 1) to all."""
        for conn in list(self.connections):
            conn.send({"op": op, "d": data, "s": None, "t": None})

    async def close_all(self) -> None:
        """Close every connection as the server shuts down."""
        for conn in list(self.connections):
            conn.closed_by_server = True
            with contextlib.suppress(ConnectionError, RuntimeError):
                await conn.close(1001, "Server shutting down")

    # --- the websocket ----------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one gateway websocket connection."""
        compress = request.query.get("compress")
        self.connects.append(dict(request.query))
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        if request.query.get("encoding", "json") != "json" or compress not in (
            None,
            "zlib-stream",
            *(("zstd-stream",) if _zstd else ()),
        ):
            await ws.close(code=4002, message=b"Decode error.")
            return ws
        conn = GatewayConnection(ws, compress)
        self.connections.add(conn)
        conn.send(
            {
                "op": HELLO,
                "d": {"heartbeat_interval": self.heartbeat_interval, "_trace": ["emu"]},
                "s": None,
                "t": None,
            }
        )
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    if msg.type == WSMsgType.BINARY:
                        await conn.close(4002, "Decode error.")
                    break
                try:
                    payload = json.loads(msg.data)
                except ValueError:
                    await conn.close(4002, "Decode error.")
                    break
                self.received.append(payload)
                if not await self._on_payload(conn, payload):
                    break
        finally:
            self.connections.discard(conn)
            session = conn.session
            if session is not None and session.connection is conn:
                session.connection = None
                # A client that closes with 1000/1001 ends its session, as on Discord.
                if ws.close_code in (1000, 1001) and not conn.closed_by_server:
                    session.alive = False
            await conn.stop()
        return ws

    async def _on_payload(self, conn: GatewayConnection, payload: dict[str, Any]) -> bool:
        op = payload.get("op")
        data = payload.get("d")
        if op == HEARTBEAT:
            conn.heartbeats += 1
            self.heartbeats += 1
            if self.ack_heartbeats:
                conn.send({"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None})
            return True
        if op == IDENTIFY:
            return await self._identify(conn, data or {})
        if op == RESUME:
            return await self._resume(conn, data or {})
        if conn.session is None:
            await self._server_close(conn, 4003, "Not authenticated.")
            return False
        if op == REQUEST_GUILD_MEMBERS:
            self._members_chunk(conn.session, data or {})
            return True
        if op in (PRESENCE_UPDATE, VOICE_STATE_UPDATE):
            return True
        await self._server_close(conn, 4001, "Unknown opcode.")
        return False

    async def _server_close(self, conn: GatewayConnection, code: int, message: str) -> None:
        conn.closed_by_server = True
        await conn.close(code, message)

    async def _identify(self, conn: GatewayConnection, data: dict[str, Any]) -> bool:
        world = self.emu.world
        if conn.session is not None:
            await self._server_close(conn, 4005, "Already authenticated.")
            return False
        if data.get("token") != world.token:
            await self._server_close(conn, 4004, "Authentication failed.")
            return False
        intents = data.get("intents")
        if not isinstance(intents, int):
            await self._server_close(conn, 4013, "Invalid intent(s).")
            return False
        if intents & PRIVILEGED & ~world.allowed_privileged_intents:
            await self._server_close(conn, 4014, "Disallowed intent(s).")
            return False
        shard = data.get("shard")
        if shard is not None and not _valid_shard(shard):
            await self._server_close(conn, 4010, "Invalid shard.")
            return False
        self.identifies += 1
        session = GatewaySession(session_id=secrets.token_hex(16), intents=intents, shard=shard)
        session.connection = conn
        conn.session = session
        self.sessions[session.session_id] = session
        self._take_shard(session)
        guilds = [
            g
            for g in world.bot_guilds()
            if shard_for(g.id, session.shard_count) == session.shard_id
        ]
        ready: dict[str, Any] = {
            "v": 10,
            "user": self.emu.bot_user_payload(),
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.emu.gateway_url,
            "application": {"id": str(world.application_id), "flags": world.application_flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "auth": {},
            "_trace": ["emu"],
        }
        if session.shard is not None:
            ready["shard"] = session.shard
        self.dispatch("READY", ready, session)
        for guild in guilds:
            self.dispatch("GUILD_CREATE", self.emu.guild_create_payload(guild, session), session)
        return True

    def _take_shard(self, session: GatewaySession) -> None:
        """Make a new session its shard's only one; an older live session there ends.

        The older session's socket stays open but gets nothing more (and cannot RESUME),
        which is what a second process identifying with the same shard does to the first.
        """
        key = (session.shard_id, session.shard_count)
        previous = self.sessions.get(self.shard_owner.get(key, ""))
        if previous is not None and previous.alive:
            previous.alive = False
            self.shard_takeovers.append((key, previous.session_id, session.session_id))
            _log.info("gateway: shard %s taken over by a new IDENTIFY", key)
        self.shard_owner[key] = session.session_id

    async def _resume(self, conn: GatewayConnection, data: dict[str, Any]) -> bool:
        session = self.sessions.get(str(data.get("session_id")))
        if data.get("token") != self.emu.world.token:
            await self._server_close(conn, 4004, "Authentication failed.")
            return False
        if session is None or not session.alive:
            conn.send({"op": INVALID_SESSION, "d": False, "s": None, "t": None})
            return True
        if session.connection is not None and session.connection is not conn:
            old = session.connection
            session.connection = None
            await self._server_close(old, 4000, "Session resumed elsewhere.")
        self.resumes += 1
        session.resumes += 1
        session.connection = conn
        conn.session = session
        seq = data.get("seq") or 0
        for payload in session.history:
            if payload["s"] > seq:
                conn.send(payload)
        self.dispatch("RESUMED", {"_trace": ["emu"]}, session)
        return True

    def _members_chunk(self, session: GatewaySession, data: dict[str, Any]) -> None:
        guild = self.emu.world.guilds.get(int(data.get("guild_id", 0)))
        if guild is None:
            return
        members = list(guild.members.values())
        if data.get("user_ids"):
            wanted = {int(u) for u in data["user_ids"]}
            members = [m for m in members if m.user.id in wanted]
        elif data.get("query"):
            members = [
                m for m in members if m.user.username.lower().startswith(data["query"].lower())
            ]
        limit = data.get("limit") or 0
        if limit:
            members = members[:limit]
        chunk: dict[str, Any] = {
            "guild_id": str(guild.id),
            "members": [m.to_payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        if data.get("presences"):
            chunk["presences"] = []
        self.dispatch("GUILD_MEMBERS_CHUNK", chunk, session)


def _valid_shard(shard: Any) -> bool:
    """Whether IDENTIFY's shard is ``[shard_id, shard_count]`` with 0 <= id < count."""
    return (
        isinstance(shard, list)
        and len(shard) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) for n in shard)
        and 0 <= shard[0] < shard[1]
    )
