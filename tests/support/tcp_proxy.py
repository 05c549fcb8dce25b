"""A TCP proxy a test can cut: an outage of the service behind it, on demand.

While cut, every open connection is closed and new ones are accepted and closed at once (so a
client's reconnect attempts can be counted); restored, it forwards again.
"""

import asyncio
import contextlib
from urllib.parse import urlsplit, urlunsplit


class TcpProxy:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.cut_now = False
        self.refused = 0
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None
        self.listen_port = 0

    async def __aenter__(self) -> "TcpProxy":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.listen_port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        self._close_all()
        await self.server.wait_closed()

    def cut(self) -> None:
        self.cut_now, self.refused = True, 0
        self._close_all()

    def restore(self) -> None:
        self.cut_now = False

    def _close_all(self) -> None:
        for w in list(self.writers):
            w.close()
        self.writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_now:
            self.refused += 1
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()
        self.writers.discard(writer)


def through(url: str, port: int) -> str:
    """`url` (a database URL) pointed at the proxy on this host's `port`."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)
    userinfo = host[0] + "@" if len(host) == 2 else ""
    return urlunsplit(parts._replace(netloc=f"{userinfo}127.0.0.1:{port}"))
