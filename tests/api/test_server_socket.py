"""The socket ``innsync serve --workers N`` binds once for its processes (``api.server``)."""

from __future__ import annotations

import asyncio
import socket

from innsync.api.server import listening_socket

# Generous: the connection is accepted at once on loopback.
PATIENCE = 10.0


def test_connections_on_the_shared_socket_send_without_waiting_for_acks() -> None:
    """Nagle's algorithm off (``TCP_NODELAY``) on every accepted connection, as uvicorn has it
    on the sockets it binds itself: else an answer's body waits for the client's delayed ACK."""
    listener = listening_socket("127.0.0.1", 0)

    async def accept_one() -> int:
        loop = asyncio.get_running_loop()
        accepted: asyncio.Future[int] = loop.create_future()

        class Accepting(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

        server = await loop.create_server(Accepting, sock=listener)
        with socket.create_connection(listener.getsockname(), timeout=PATIENCE):
            no_delay = await asyncio.wait_for(accepted, PATIENCE)
        server.close()
        await server.wait_closed()
        return no_delay

    assert asyncio.run(accept_one()) != 0
