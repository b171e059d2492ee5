"""The fault proxy against a local echo server: each toxic does what it says, and heal() brings
plain pass-through back on the same proxy. Reads that must get nothing use a short timeout; every
other wait has a deadline only so that a broken proxy fails instead of hanging."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from bodhi_devstack.faults import FaultProxy
from bodhi_devstack.proc import free_port

DEADLINE = 5.0
NOTHING = 0.3  # how long a read waits to show that nothing arrives

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Echo:
    """An echo server on the test's loop that counts the connections it saw end."""

    def __init__(self) -> None:
        self.ended = 0
        self.port = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            self.ended += 1
            writer.close()


@pytest.fixture
async def echo() -> AsyncIterator[Echo]:
    echo = Echo()
    server = await asyncio.start_server(echo.serve, "127.0.0.1", 0)
    echo.port = server.sockets[0].getsockname()[1]
    yield echo
    server.close()


@pytest.fixture
def proxy(echo: Echo) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", echo.port) as started:
        yield started


async def connect(proxy: FaultProxy) -> Conn:
    return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", proxy.port), DEADLINE)


async def roundtrip(conn: Conn, data: bytes) -> bytes:
    reader, writer = conn
    writer.write(data)
    await writer.drain()
    return await asyncio.wait_for(reader.readexactly(len(data)), DEADLINE)


async def nothing_arrives(conn: Conn) -> bool:
    try:
        await asyncio.wait_for(conn[0].read(1), NOTHING)
    except TimeoutError:
        return True
    return False


async def eventually(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.01)


async def test_it_passes_bytes_through_and_counts_them(proxy: FaultProxy) -> None:
    assert proxy.mode == "pass"
    first, second = await connect(proxy), await connect(proxy)
    assert await roundtrip(first, b"hello") == b"hello"
    assert await roundtrip(second, b"x" * 200_000) == b"x" * 200_000
    await eventually(lambda: proxy.bytes_down == 200_005)
    assert (proxy.accepted, proxy.active, proxy.bytes_up) == (2, 2, 200_005)
    first[1].close()
    await eventually(lambda: proxy.active == 1)


async def test_latency_delays_every_chunk_and_heal_removes_it(proxy: FaultProxy) -> None:
    conn = await connect(proxy)
    proxy.latency(600)
    conn[1].write(b"slow")
    assert await nothing_arrives(conn)  # 600 ms up and 600 ms down: not yet
    assert await asyncio.wait_for(conn[0].readexactly(4), DEADLINE) == b"slow"
    proxy.heal()
    assert await roundtrip(conn, b"fast") == b"fast"


async def test_a_blackhole_holds_old_and_new_connections_until_healed(
    proxy: FaultProxy, echo: Echo
) -> None:
    old = await connect(proxy)
    assert await roundtrip(old, b"before") == b"before"
    proxy.blackhole()
    new = await connect(proxy)  # accepted like a hung peer accepts: in the kernel
    for conn in (old, new):
        conn[1].write(b"held")
        await conn[1].drain()
        assert await nothing_arrives(conn)
    assert proxy.mode == "blackhole"
    assert echo.ended == 0  # nothing was closed either
    proxy.heal()
    for conn in (old, new):
        assert await asyncio.wait_for(conn[0].readexactly(4), DEADLINE) == b"held"
        assert await roundtrip(conn, b"after") == b"after"


async def test_reset_cuts_open_connections_and_refuses_new_ones(
    proxy: FaultProxy, echo: Echo
) -> None:
    old = await connect(proxy)
    assert await roundtrip(old, b"before") == b"before"
    proxy.reset()
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(old[0].read(1), DEADLINE)
    await eventually(lambda: echo.ended == 1)  # the target's side was cut too
    with pytest.raises(ConnectionResetError):  # at connect or at the first read
        await roundtrip(await connect(proxy), b"refused")
    assert proxy.active == 0
    proxy.heal()
    assert await roundtrip(await connect(proxy), b"again") == b"again"


async def test_limit_data_closes_after_n_bytes_downstream(proxy: FaultProxy) -> None:
    proxy.limit_data(10)
    reader, writer = await connect(proxy)
    writer.write(b"a" * 30)
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), DEADLINE) == b"a" * 10  # then end of stream
    proxy.limit_data(None)
    assert await roundtrip(await connect(proxy), b"b" * 30) == b"b" * 30


async def test_a_target_that_is_down_closes_the_client_and_stop_closes_all(echo: Echo) -> None:
    with FaultProxy("127.0.0.1", free_port()) as nowhere:
        reader, _ = await connect(nowhere)
        assert await asyncio.wait_for(reader.read(), DEADLINE) == b""
    proxy = FaultProxy.to(f"127.0.0.1:{echo.port}")
    proxy.start()
    conn = await connect(proxy)
    assert await roundtrip(conn, b"up") == b"up"
    proxy.stop()
    with pytest.raises(RuntimeError):
        proxy.blackhole()
    with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
        await roundtrip(conn, b"gone")
