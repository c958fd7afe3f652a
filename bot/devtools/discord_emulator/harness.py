"""Point the real discord.py at a DiscordEmulator, and run a client against it."""

# running(..., timeout=) bounds the wait for READY, as test helpers do.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

import discord
import yarl
from discord.gateway import DiscordWebSocket

from .server import DiscordEmulator

ClientT = TypeVar("ClientT", bound=discord.Client)


@contextlib.contextmanager
def pointed_at(emu: DiscordEmulator) -> Iterator[None]:
    """Point discord.py's REST (Route.BASE) and gateway (DEFAULT_GATEWAY) at the emulator.

    A plain Client never asks /gateway/bot: it opens DiscordWebSocket.DEFAULT_GATEWAY and
    afterwards READY's resume_gateway_url. AutoShardedClient asks /gateway/bot, which the
    emulator answers with its own URL, so both paths end up here.
    """
    old_base, old_gateway = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = emu.api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(emu.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = old_base, old_gateway


@contextlib.asynccontextmanager
async def running(
    client: ClientT, emu: DiscordEmulator, *, token: str | None = None, timeout: float = 10
) -> AsyncIterator[ClientT]:
    """Log the client in, connect it, wait for on_ready; close it on exit.

    Errors from login (discord.LoginFailure) and from the connection surface here. Build
    clients with ``guild_ready_timeout=0.1`` or READY waits 2 s for more guilds.
    """
    try:
        await client.login(token if token is not None else emu.token)
    except BaseException:
        await client.close()  # login opened an HTTP session even when it failed
        raise
    connection = asyncio.create_task(client.connect(reconnect=True), name="discord-client")
    ready = asyncio.create_task(client.wait_until_ready())
    try:
        done, _ = await asyncio.wait(
            {connection, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if connection in done:
            connection.result()
            raise RuntimeError("the client disconnected before it was ready")
        if ready not in done:
            raise TimeoutError(f"the client was not ready within {timeout}s")
        yield client
    finally:
        ready.cancel()
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await connection
