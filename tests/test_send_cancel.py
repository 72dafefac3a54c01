"""A request cancelled while it sends a frame stops: shutdown's cancel must never be lost.

On Python 3.11 ``asyncio.wait_for`` returns normally when the cancel lands just after the
awaited drain has finished, so a streaming request that shutdown cancelled ran on to its
``end`` (the client saw a whole file) and shutdown waited for all of it. Here a client reads
as fast as it can while frames larger than the send buffer go out, so every send waits for a
drain, and the cancel is tried at each of the first loop steps; every try must end the task.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from types import SimpleNamespace

from litettsd.config import load_settings
from litettsd.server import Connection


def test_a_cancel_during_send_is_never_swallowed() -> None:
    loaded = load_settings().settings
    settings = dataclasses.replace(loaded, server=dataclasses.replace(loaded.server, send_buffer_bytes=4096, idle_timeout=0))

    async def reader_of(sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while await loop.sock_recv(sock, 1 << 16):
            pass

    async def scenario() -> list[int]:
        lost = []
        for steps in range(1, 40):
            ours, theirs = socket.socketpair()
            theirs.setblocking(False)
            reader, writer = await asyncio.open_unix_connection(sock=ours)
            connection = Connection(SimpleNamespace(settings=settings), reader, writer)  # type: ignore[arg-type]
            client = asyncio.create_task(reader_of(theirs))

            async def stream() -> None:
                for _ in range(400):  # bounded, so a lost cancel shows as an ending, not a hang
                    await connection.send({"type": "audio", "id": 1, "seq": 0, "data": b"x" * 65536})

            task = asyncio.create_task(stream())
            for _ in range(steps):
                await asyncio.sleep(0)
            assert not task.done()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if not task.cancelled():
                lost.append(steps)
            writer.close()
            client.cancel()
            await asyncio.gather(client, return_exceptions=True)
            theirs.close()
        return lost

    assert asyncio.run(scenario()) == []
