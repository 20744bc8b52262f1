"""Hypothesis-made frames against the consumer: after each one the connection answers ping
(or was closed with a documented code) and the pod still serves another client."""

from __future__ import annotations

import json

import pytest
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from murror.asgi import application

DOCUMENTED_CLOSE_CODES = {4401, 1012, 4012}
TYPES = ["join", "leave", "emit", "members", "ping", "pong", "", "JOIN", None, 7]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**300), max_value=10**300)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)
messages = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES)},
    optional={
        "room": st.sampled_from(["fuzz", "x" * 81, "bad room", ""]) | json_values,
        "event": st.sampled_from(["e", "bad event", "e" * 65]) | json_values,
        "data": json_values,
        "echo": json_values,
        "id": json_values,
    },
)
frames = st.one_of(
    messages.map(lambda message: ("text", json.dumps(message))),
    json_values.map(lambda value: ("text", json.dumps(value))),
    st.text(max_size=300).map(lambda text: ("text", text)),
    st.binary(max_size=300).map(lambda data: ("bytes", data)),
    st.integers(min_value=1, max_value=40_000).map(
        lambda depth: ("text", "[" * depth + "]" * depth)
    ),
    st.integers(min_value=60_000, max_value=70_000).map(
        lambda size: ("text", '"' + "x" * size + '"')
    ),
    st.sampled_from(
        ["1" * 5000, '{"type": "ping", "id": 1e999}', "NaN", '{"type": "emit"' + "}" * 3]
    ).map(lambda text: ("text", text)),
)


@pytest.fixture(autouse=True)
def generous_limits(settings, in_process_pod) -> None:
    settings.REALTIME_RATE = 1_000_000
    settings.REALTIME_BURST = 1_000_000


async def connected() -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, "/ws/")
    assert (await communicator.connect(timeout=5))[0]
    assert json.loads(await communicator.receive_from(timeout=5))["type"] == "welcome"
    return communicator


async def still_alive(communicator: WebsocketCommunicator, ping_id: str) -> bool:
    """Ping, skipping replies and events, until the pong; False if closed with a known code."""
    await communicator.send_to(text_data=json.dumps({"type": "ping", "id": ping_id}))
    while True:
        output = await communicator.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            assert output.get("code") in DOCUMENTED_CLOSE_CODES
            return False
        reply = json.loads(output["text"])
        if reply == {"type": "pong", "id": ping_id}:
            return True


@hypothesis_settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(frames, min_size=1, max_size=8))
async def test_no_frame_kills_the_connection_or_the_pod(sequence) -> None:
    bystander = await connected()
    await bystander.send_to(text_data=json.dumps({"type": "join", "room": "fuzz"}))
    await bystander.receive_from(timeout=5)
    fuzzed = await connected()
    await fuzzed.send_to(text_data=json.dumps({"type": "join", "room": "fuzz"}))
    await fuzzed.receive_from(timeout=5)
    for number, (kind, payload) in enumerate(sequence):
        # send_input, not send_to: send_to refuses empty frames, which a real client can send.
        await fuzzed.send_input({"type": "websocket.receive", kind: payload})
        if not await still_alive(fuzzed, f"after-{number}"):
            break
    assert await still_alive(bystander, "bystander")
    await fuzzed.disconnect()
    await bystander.disconnect()
