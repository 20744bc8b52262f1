"""realtime.pod.lifecycle: one pod per event loop, and a stop that leaves nothing running."""

from __future__ import annotations

import asyncio

from realtime.pod.lifecycle import PodState, pod_running, pod_serving, pod_stop


def pod_tasks() -> set[str]:
    names = {"hub-receive", "hub-dispatch", "hub-forward", "stats-publish"}
    return {task.get_name() for task in asyncio.all_tasks() if task.get_name() in names}


async def test_a_loop_gets_one_pod_started_on_first_use() -> None:
    assert pod_running() is None
    pod = await pod_serving()
    assert await pod_serving() is pod
    assert pod_running() is pod and pod.state is PodState.SERVING
    assert pod_tasks() == {"hub-receive", "hub-dispatch", "hub-forward", "stats-publish"}
    await pod_stop()
    assert pod_running() is None


async def test_stop_awaits_every_task_it_cancelled() -> None:
    pod = await pod_serving()
    await pod_stop()
    # Nothing left to finish later: each cancelled task has run its cleanup already.
    assert pod_tasks() == set()
    assert pod.state is PodState.STOPPED and pod.draining
