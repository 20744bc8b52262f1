"""Engine.IO 4 and Socket.IO 5 at /socket.io/ on a real daphne pod, packet by packet: our own
cases, mirroring the official engine.io-protocol and socket.io-protocol test suites (handshake,
heartbeat, close, upgrade, connect, disconnect, message, acks).

Where those suites expect a malformed packet to close the connection, this server answers it
with an `error` event and keeps the connection, as /ws/ does (docs/socketio.md).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
import websockets

from realtime.protocols.closecodes import CloseCode
from tests.support.servers import DaphnePod
from tests.support.ws_client import WsClient

PING_INTERVAL, PING_TIMEOUT, CONNECT_TIMEOUT = 0.3, 0.2, 2.0
TIMEOUT = 5


def sio_pod(workdir, name: str, env: dict[str, str]) -> DaphnePod:
    return DaphnePod(workdir, {"REALTIME_MAX_FRAME_BYTES": "1000000", **env}, name).start()


@pytest.fixture(scope="module")
def pods(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DaphnePod, DaphnePod]]:
    """A pod with the default heartbeat, and one with the official suites' quick one."""
    workdir = tmp_path_factory.mktemp("sio-protocol")
    quick_env = {
        "REALTIME_SIO_PING_INTERVAL": str(PING_INTERVAL),
        "REALTIME_SIO_PING_TIMEOUT": str(PING_TIMEOUT),
        "REALTIME_SIO_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
    }
    both = (sio_pod(workdir, "sio", {}), sio_pod(workdir, "sio-quick", quick_env))
    try:
        yield tuple(pod.wait_listening() for pod in both)  # type: ignore[misc]
    finally:
        for pod in both:
            pod.stop()


@pytest.fixture
def pod(pods: tuple[DaphnePod, DaphnePod]) -> DaphnePod:
    return pods[0]


@pytest.fixture
def quick_pod(pods: tuple[DaphnePod, DaphnePod]) -> DaphnePod:
    return pods[1]


async def http_session(pod: DaphnePod) -> aiohttp.ClientSession:
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    return aiohttp.ClientSession(f"http://127.0.0.1:{pod.port}", timeout=timeout)


@pytest.fixture
async def http(pod: DaphnePod) -> AsyncIterator[aiohttp.ClientSession]:
    async with await http_session(pod) as session:
        yield session


@pytest.fixture
async def quick_http(quick_pod: DaphnePod) -> AsyncIterator[aiohttp.ClientSession]:
    async with await http_session(quick_pod) as session:
        yield session


def ws_url(pod: DaphnePod, query: str = "EIO=4&transport=websocket") -> str:
    return f"ws://127.0.0.1:{pod.port}/socket.io/?{query}"


async def polling_session(http: aiohttp.ClientSession) -> str:
    async with http.get("/socket.io/?EIO=4&transport=polling") as response:
        return json.loads((await response.text())[1:])["sid"]


async def poll(http: aiohttp.ClientSession, sid: str) -> tuple[int, str]:
    async with http.get(f"/socket.io/?EIO=4&transport=polling&sid={sid}") as response:
        return response.status, await response.text()


async def push(http: aiohttp.ClientSession, sid: str, body: str) -> tuple[int, str]:
    url = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
    async with http.post(url, data=body.encode()) as response:
        return response.status, await response.text()


async def recv(socket: websockets.ClientConnection, skip_pings: bool = True) -> str:
    while True:
        frame = await asyncio.wait_for(socket.recv(), TIMEOUT)
        if not (skip_pings and frame == "2"):
            return frame


async def socketio_connected(pod: DaphnePod) -> websockets.ClientConnection:
    socket = await websockets.connect(ws_url(pod), open_timeout=TIMEOUT)
    assert (await recv(socket)).startswith("0")
    await socket.send("40")
    assert (await recv(socket)).startswith("40")
    assert (await recv(socket)).startswith('42["welcome",')
    return socket


# Engine.IO: handshake


async def test_a_polling_handshake_opens_a_session(quick_http) -> None:
    async with quick_http.get("/socket.io/?EIO=4&transport=polling") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        content = await response.text()
    assert content[0] == "0"
    handshake = json.loads(content[1:])
    assert set(handshake) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
    assert handshake["upgrades"] == ["websocket"]
    assert (handshake["pingInterval"], handshake["pingTimeout"]) == (300, 200)
    assert handshake["maxPayload"] == 1000000


@pytest.mark.parametrize(
    ("query", "method", "code"),
    [
        ("transport=polling", "GET", 5),
        ("EIO=abc&transport=polling", "GET", 5),
        ("EIO=3&transport=polling", "GET", 5),
        ("EIO=4", "GET", 0),
        ("EIO=4&transport=abc", "GET", 0),
        ("EIO=4&transport=polling", "POST", 2),
        ("EIO=4&transport=polling", "PUT", 2),
        ("EIO=4&transport=polling&sid=nope", "GET", 1),
    ],
)
async def test_a_bad_request_is_400_with_engine_ios_code(http, query, method, code) -> None:
    async with http.request(method, f"/socket.io/?{query}") as response:
        assert response.status == 400
        assert (await response.json())["code"] == code


async def test_a_websocket_handshake_opens_a_session_without_upgrades(quick_pod) -> None:
    async with websockets.connect(ws_url(quick_pod), open_timeout=TIMEOUT) as socket:
        frame = await recv(socket)
    handshake = json.loads(frame[1:])
    assert frame[0] == "0" and handshake["upgrades"] == []
    assert handshake["pingInterval"] == 300


@pytest.mark.parametrize("query", ["transport=websocket", "EIO=abc&transport=websocket", "EIO=4"])
async def test_a_bad_websocket_handshake_is_refused(pod, query) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(ws_url(pod, query), open_timeout=TIMEOUT)
    assert refused.value.response.status_code == 403


# Engine.IO: messages, heartbeat, close


async def test_polling_carries_packets_both_ways(http) -> None:
    sid = await polling_session(http)
    assert await push(http, sid, "40") == (200, "ok")
    status, content = await poll(http, sid)
    connect, welcome = content.split("\x1e")
    assert status == 200 and connect.startswith('40{"sid":') and welcome.startswith('42["welcome"')
    # Several packets in one POST: each answered, in one poll.
    assert await push(http, sid, '421["join","a"]\x1e422["join","b"]') == (200, "ok")
    status, content = await poll(http, sid)
    assert content.split("\x1e") == [
        '431[{"type":"joined","room":"a"}]',
        '432[{"type":"joined","room":"b"}]',
    ]


async def test_two_polls_at_once_close_the_session(http) -> None:
    sid = await polling_session(http)
    # Whichever reaches the server first waits; the other is refused, and the first then gets
    # the close packet.
    answers = await asyncio.gather(poll(http, sid), poll(http, sid))
    assert sorted(status for status, _ in answers) == [200, 400]
    assert (200, "1") in answers
    assert (await poll(http, sid))[0] == 400


async def test_the_server_pings_over_polling_and_a_silent_client_is_closed(quick_http) -> None:
    http = quick_http
    sid = await polling_session(http)
    for _ in range(3):
        assert await poll(http, sid) == (200, "2")
        assert await push(http, sid, "3") == (200, "ok")
    assert await poll(http, sid) == (200, "2")
    # No pong: after pingTimeout the waiting poll gets the close packet, then the sid is gone.
    assert await poll(http, sid) == (200, "1")
    assert (await poll(http, sid))[0] == 400


async def test_the_server_pings_over_a_websocket_and_closes_on_silence(quick_pod) -> None:
    async with websockets.connect(ws_url(quick_pod), open_timeout=TIMEOUT) as socket:
        await recv(socket)
        for _ in range(3):
            assert await recv(socket, skip_pings=False) == "2"
            await socket.send("3")
        assert await recv(socket, skip_pings=False) == "2"
        with pytest.raises(websockets.ConnectionClosed):
            await recv(socket, skip_pings=False)  # no pong, no connection


async def test_a_client_close_packet_ends_the_session(http) -> None:
    sid = await polling_session(http)
    # A poll waiting when the close comes ends with a noop; one that comes after, 400.
    waiting, closing = await asyncio.gather(poll(http, sid), push(http, sid, "1"))
    assert closing == (200, "ok")
    assert waiting == (200, "6") or waiting[0] == 400
    assert (await poll(http, sid))[0] == 400


async def test_a_client_close_packet_on_a_websocket_closes_it(pod) -> None:
    async with websockets.connect(ws_url(pod), open_timeout=TIMEOUT) as socket:
        await recv(socket)
        await socket.send("1")
        with pytest.raises(websockets.ConnectionClosed):
            await recv(socket)


# Engine.IO: upgrade


async def test_polling_upgrades_to_a_websocket(pod, http) -> None:
    sid = await polling_session(http)
    assert await push(http, sid, "40") == (200, "ok")
    async with websockets.connect(ws_url(pod, f"EIO=4&transport=websocket&sid={sid}")) as socket:
        await socket.send("2probe")
        assert await recv(socket) == "3probe"
        assert await poll(http, sid) == (200, "6")  # a noop ends the polling cycle
        await socket.send("5")
        # What waited for a poll (the CONNECT answer, the welcome) comes on the WebSocket.
        assert (await recv(socket)).startswith('40{"sid":')
        assert (await recv(socket)).startswith('42["welcome"')
        await socket.send('421["join","up"]')
        assert await recv(socket) == '431[{"type":"joined","room":"up"}]'
        # The session is the WebSocket's now: polls and a second WebSocket are refused.
        assert (await poll(http, sid))[0] == 400
        second = await websockets.connect(ws_url(pod, f"EIO=4&transport=websocket&sid={sid}"))
        with pytest.raises(websockets.ConnectionClosed):  # accepted, then closed
            await recv(second)


async def test_an_unknown_sid_on_a_websocket_is_closed(pod) -> None:
    async with websockets.connect(ws_url(pod, "EIO=4&transport=websocket&sid=nope")) as socket:
        with pytest.raises(websockets.ConnectionClosed):
            await recv(socket)


async def test_a_polling_session_at_its_ping_deadline_is_gone(quick_http) -> None:
    """The official suite's timing: no poll, no pong; pingInterval + pingTimeout later, 400."""
    sid = await polling_session(quick_http)
    await asyncio.sleep(PING_INTERVAL + PING_TIMEOUT)  # the wait is what the test is about
    assert (await poll(quick_http, sid))[0] == 400


async def test_a_probe_that_goes_away_leaves_the_session_on_polling(pod, http) -> None:
    sid = await polling_session(http)
    async with websockets.connect(ws_url(pod, f"EIO=4&transport=websocket&sid={sid}")) as socket:
        await socket.send("2probe")
        assert await recv(socket) == "3probe"
    assert await push(http, sid, "40") == (200, "ok")
    # Noops until the server has seen the WebSocket go, then what waited.
    async with asyncio.timeout(TIMEOUT):
        while (answer := await poll(http, sid)) == (200, "6"):
            pass
    assert answer[0] == 200 and answer[1].startswith("40")


# Socket.IO: connect, disconnect


async def test_connect_to_the_main_namespace_gets_the_socket_id_and_the_welcome(pod) -> None:
    async with websockets.connect(ws_url(pod), open_timeout=TIMEOUT) as socket:
        engine_sid = json.loads((await recv(socket))[1:])["sid"]
        await socket.send('40{"token":"ignored-without-a-valid-signature"}')
        assert await recv(socket) == '44{"message":"unauthorized"}'
        await socket.send("40")
        reply = await recv(socket)
        socket_id = json.loads(reply[2:])["sid"]
        assert reply.startswith("40") and socket_id != engine_sid
        welcome = json.loads((await recv(socket))[2:])
        assert welcome == ["welcome", {"connection_id": socket_id, "pod": "sio", "layer": "memory"}]


async def test_another_namespace_is_refused(pod) -> None:
    async with websockets.connect(ws_url(pod), open_timeout=TIMEOUT) as socket:
        await recv(socket)
        await socket.send("40/random")
        assert await recv(socket) == '44/random,{"message":"Invalid namespace"}'
        await socket.send("40/custom,")
        assert await recv(socket) == '44/custom,{"message":"Invalid namespace"}'


async def test_a_session_that_never_connects_is_closed(quick_pod) -> None:
    async with websockets.connect(ws_url(quick_pod), open_timeout=TIMEOUT) as socket:
        await recv(socket)
        with pytest.raises(websockets.ConnectionClosed):
            while True:  # pings answered: only the missing CONNECT closes it
                if await recv(socket, skip_pings=False) == "2":
                    await socket.send("3")


async def test_disconnect_leaves_the_engine_session_open(quick_pod) -> None:
    socket = await socketio_connected(quick_pod)
    await socket.send("41")
    assert await recv(socket, skip_pings=False) == "2"  # still pinged
    await socket.send("3")
    await socket.send('421["join","r"]')  # nobody is connected to hear it
    await socket.send("40")
    assert (await recv(socket)).startswith("40")
    await socket.close()


# Socket.IO: messages and acks


async def test_events_with_acks(pod) -> None:
    socket = await socketio_connected(pod)
    await socket.send('42456["join","lobby"]')
    assert await recv(socket) == '43456[{"type":"joined","room":"lobby"}]'
    await socket.send('4257["members",{"room":"lobby"}]')
    assert await recv(socket) == '4357[{"type":"members","room":"lobby","count":1}]'
    await socket.send('428["emit",{"room":"lobby","event":"chat","data":{"t":[1]}}]')
    event = json.loads((await recv(socket))[2:])
    assert event[:2] == ["chat", {"t": [1]}] and event[2]["room"] == "lobby"
    assert await recv(socket) == '438[{"type":"ack"}]'
    await socket.close()


@pytest.mark.parametrize(
    ("packet", "code"),
    [
        ('429["dance"]', "unknown_type"),
        ('429["join",{"room":"no spaces"}]', "bad_room"),
        ('429["join",5]', "bad_message"),
        ('429["emit",{"room":"r","event":"e"}]', "not_in_room"),
        ('429["emit","r"]', "bad_message"),
        (
            '452-9["join",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
            "bad_message",
        ),
    ],
)
async def test_a_broken_rule_is_the_error_in_the_ack(pod, packet, code) -> None:
    socket = await socketio_connected(pod)
    await socket.send(packet)
    if packet.startswith("45"):
        await socket.send(b"\x01\x02")  # the attachments: skipped quietly
        await socket.send(b"\x03")
    reply = await recv(socket)
    assert reply.startswith("439[")
    error = json.loads(reply[3:])[0]
    assert (error["type"], error["code"]) == ("error", code) and error["message"]
    await socket.send('4210["join","still-here"]')
    assert await recv(socket) == '4310[{"type":"joined","room":"still-here"}]'
    await socket.close()


@pytest.mark.parametrize(
    ("packet", "code"),
    [("4abc", "bad_message"), ("42{}", "bad_message"), ("abc", "bad_message"),
     ('42abc["message",1]', "bad_json"), ('42["dance"]', "unknown_type")],
)  # fmt: skip
async def test_a_malformed_packet_is_an_error_event_and_the_connection_stays(
    pod, packet, code
) -> None:
    socket = await socketio_connected(pod)
    await socket.send(packet)
    event = json.loads((await recv(socket))[2:])
    assert event[0] == "error" and event[1]["code"] == code
    await socket.send(b"binary")
    assert json.loads((await recv(socket))[2:])[1]["code"] == "bad_message"
    await socket.send('421["join","ok"]')
    assert await recv(socket) == '431[{"type":"joined","room":"ok"}]'
    await socket.close()


async def test_a_packet_over_max_payload_is_too_large_in_its_ack(pod) -> None:
    socket = await socketio_connected(pod)
    await socket.send('4277["emit",{"room":"r","data":"' + "x" * 1000000 + '"}]')
    reply = await recv(socket)
    assert reply.startswith("4377[") and json.loads(reply[4:])[0]["code"] == "too_large"
    await socket.close()


async def test_a_connect_over_the_address_cap_closes_the_transport(pod_factory) -> None:
    """A transport close rather than CONNECT_ERROR: socket.io-client reconnects by itself,
    with backoff, where a CONNECT_ERROR would leave it disconnected."""
    capped = pod_factory({"REALTIME_MAX_CONNECTIONS_PER_ADDRESS": "1"}).wait_listening()
    held = await socketio_connected(capped)
    async with websockets.connect(ws_url(capped), open_timeout=TIMEOUT) as refused:
        assert (await recv(refused)).startswith("0")
        await refused.send("40")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await recv(refused)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == CloseCode.TOO_MANY_FROM_ADDRESS
    await held.close()


async def test_a_polling_client_that_stops_polling_a_busy_room_is_closed(pod_factory) -> None:
    """Its events would pile up in the pod until its ping timeout; past
    REALTIME_SIO_POLL_BUFFER_BYTES the session closes, counted, and the others go on."""
    bounded = pod_factory({"REALTIME_SIO_POLL_BUFFER_BYTES": "20000"}).wait_listening()
    async with await http_session(bounded) as http:
        sid = await polling_session(http)
        assert await push(http, sid, "40") == (200, "ok")
        assert (await poll(http, sid))[0] == 200  # CONNECT and welcome
        assert await push(http, sid, '421["join","busy"]') == (200, "ok")
        assert (await poll(http, sid))[1] == '431[{"type":"joined","room":"busy"}]'
        # Then it stops polling, while the room gets 40 events of 1 kB.
        sender = await WsClient.connect(f"ws://127.0.0.1:{bounded.port}/ws/")
        await sender.join("busy")
        for _ in range(40):
            await sender.request({"type": "emit", "room": "busy", "event": "e", "data": "x" * 1000})
        # What the next poll finds: the close packet, not 40 kB of events; then the sid is gone.
        status, content = await poll(http, sid)
        assert (status, content) == (200, "1")
        assert (await poll(http, sid))[0] == 400
        assert (await sender.request({"type": "ping"}))["type"] == "pong"
        await sender.close()
    metrics = bounded.http_get("/metrics")[1]
    assert 'murror_slow_clients_closed_total{pod="pod-1",protocol="socketio"} 1.0' in metrics
