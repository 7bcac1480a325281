"""WatchHub wakes only the watch streams an apply concerns (the rest are not woken to find out)."""

from __future__ import annotations

import asyncio

from cluster.store.mvcc.state_machine import StateMachine
from cluster.store.v3rpc.watch import WatchHub, WatchStream
from raykube.etcd.etcdserverpb import rpc_pb2

from .entries import delete, entry, put


def header(revision: int) -> rpc_pb2.ResponseHeader:
    return rpc_pb2.ResponseHeader(revision=revision)


def stream_on(
    machine: StateMachine, hub: WatchHub, key: bytes, range_end: bytes, **create: int
) -> WatchStream:
    stream = WatchStream(machine, hub, header)
    stream.handle(
        rpc_pb2.WatchRequest(
            create_request=rpc_pb2.WatchCreateRequest(key=key, range_end=range_end, **create)
        )
    )
    stream._wake.clear()  # the create's own answer is not what is looked at here
    return stream


def woken(*streams: WatchStream) -> list[bool]:
    """Which streams were woken; those read what there is, as their writer task would."""
    found = [s._wake.is_set() for s in streams]
    for stream in streams:
        if stream._wake.is_set():
            for watcher in list(stream._watchers.values()):
                stream._poll(watcher)
            stream._wake.clear()
    return found


def test_an_apply_wakes_the_streams_watching_what_it_changed_and_no_others() -> None:
    async def scenario() -> None:
        machine = StateMachine()
        hub = WatchHub(machine)
        pods = stream_on(machine, hub, b"/registry/pods/", b"/registry/pods0")
        nodes = stream_on(machine, hub, b"/registry/nodes/", b"/registry/nodes0")
        one_key = stream_on(machine, hub, b"/registry/nodes/n1", b"")
        machine.apply(put(b"/registry/pods/default/a"))
        hub.notify()
        assert woken(pods, nodes, one_key) == [True, False, False]
        machine.apply(put(b"/registry/nodes/n2"))
        machine.apply(put(b"/registry/nodes/n1"))  # two applies before one notify: both count
        hub.notify()
        assert woken(pods, nodes, one_key) == [False, True, True]
        machine.apply(delete(b"/registry/pods/", b"/registry/pods0"))
        hub.notify()
        assert woken(pods, nodes, one_key) == [True, False, False]
        hub.notify()  # nothing new
        assert woken(pods, nodes, one_key) == [False, False, False]

    asyncio.run(scenario())


def test_a_watcher_still_catching_up_is_woken_by_every_apply() -> None:
    async def scenario() -> None:
        machine = StateMachine()
        hub = WatchHub(machine)
        for i in range(3):
            machine.apply(put(b"/registry/pods/default/p%d" % i))
        hub.notify()
        behind = stream_on(machine, hub, b"/registry/pods/", b"/registry/pods0", start_revision=1)
        caught_up = stream_on(machine, hub, b"/registry/pods/", b"/registry/pods0")
        machine.apply(put(b"/registry/nodes/n1"))
        hub.notify()
        assert woken(behind, caught_up) == [True, False]

    asyncio.run(scenario())


def test_every_stream_is_woken_when_the_history_since_the_last_notice_is_compacted_away() -> None:
    async def scenario() -> None:
        machine = StateMachine()
        hub = WatchHub(machine)
        nodes = stream_on(machine, hub, b"/registry/nodes/", b"/registry/nodes0")
        for key in (b"/registry/pods/default/a", b"/registry/pods/default/b", b"/registry/pods/default/c"):
            machine.apply(put(key))
        machine.apply(entry(compaction=rpc_pb2.CompactionRequest(revision=3)))  # the keys told of are gone
        hub.notify()
        assert woken(nodes) == [True]

    asyncio.run(scenario())
