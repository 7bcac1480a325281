"""PriorityClasses and Priority admission on a real store and API server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from cluster.api import manifest, resources
from cluster.client.api import ApiClient
from cluster.errors import Forbidden, Invalid
from raykube.v1 import pod_pb2, scheduling_pb2
from tests.harness import ControlPlane, control_plane


def priority_class(name: str, value: int, **fields: object) -> scheduling_pb2.PriorityClass:
    pc = scheduling_pb2.PriorityClass(value=value, **fields)  # type: ignore[arg-type]
    pc.metadata.name = name
    return pc


def web(name: str, **spec: str | int) -> pod_pb2.Pod:
    extra = "".join(f", {key}: {value}" for key, value in spec.items())
    [obj] = manifest.load(
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\n"
        f"spec: {{containers: [{{name: c, image: 'busybox:1.35'}}]{extra}}}\n"
    )
    assert isinstance(obj, pod_pb2.Pod)
    return obj


def run_on_plane(tmp_path: Path, scenario: Callable[[ControlPlane, ApiClient], Awaitable[None]]) -> None:
    async def main() -> None:
        async with control_plane(tmp_path) as plane, plane.client() as admin:
            await scenario(plane, admin)

    asyncio.run(main())


def run(tmp_path: Path, scenario: Callable[[ApiClient], Awaitable[None]]) -> None:
    async def main() -> None:
        async with control_plane(tmp_path) as plane, plane.client() as admin:
            await scenario(admin)

    asyncio.run(main())


def test_a_pod_gets_its_class_priority_and_the_default_class_when_it_names_none(tmp_path: Path) -> None:
    async def scenario(admin: ApiClient) -> None:
        system, _ = await admin.list(resources.PRIORITYCLASSES)
        assert {(pc.metadata.name, pc.value) for pc in system} == {
            ("system-cluster-critical", 2_000_000_000), ("system-node-critical", 2_000_001_000)}  # fmt: skip
        assert (await admin.create(web("plain"))).spec.priority == 0
        await admin.create(priority_class("high", 1000, description="batch that may preempt"))
        high = await admin.create(web("urgent", priorityClassName="high"))
        assert (high.spec.priority, high.spec.preemption_policy) == (1000, "PreemptLowerPriority")
        await admin.create(priority_class("low", 10, global_default=True, preemption_policy="Never"))
        low = await admin.create(web("ordinary"))
        assert (low.spec.priority, low.spec.priority_class_name, low.spec.preemption_policy) == (
            10,
            "low",
            "Never",
        )
        low.spec.containers[0].image = "busybox:1.36"  # a re-applied manifest says nothing of priority
        low.spec.ClearField("priority")
        assert (await admin.update(low)).spec.priority == 10

    run(tmp_path, scenario)


def test_unknown_classes_and_self_declared_priorities_are_forbidden(tmp_path: Path) -> None:
    async def scenario(admin: ApiClient) -> None:
        with pytest.raises(
            Forbidden, match='pods "p" is forbidden: no PriorityClass with name gold was found'
        ):
            await admin.create(web("p", priorityClassName="gold"))
        with pytest.raises(Forbidden, match=r"the integer value of priority \(5\) must not be provided"):
            await admin.create(web("q", priority=5))
        pods, _ = await admin.list(resources.PODS)
        assert not pods  # nothing stored

    run(tmp_path, scenario)


@pytest.mark.parametrize(
    ("pc", "field", "message"),
    [
        (priority_class("huge", 1_000_000_001), "value", "must be less than or equal to 1000000000"),
        (priority_class("system-mine", 5), "metadata.name", "'system-' prefix are reserved"),
        (priority_class("odd", 5, preemption_policy="Sometimes"), "preemptionPolicy", "Unsupported value"),
    ],
)
def test_bad_priority_classes_are_refused_naming_the_field(
    tmp_path: Path, pc: scheduling_pb2.PriorityClass, field: str, message: str
) -> None:
    async def scenario(admin: ApiClient) -> None:
        with pytest.raises(Invalid) as refused:
            await admin.create(pc)
        assert [c.field for c in refused.value.causes] == [field] and message in str(refused.value)

    run(tmp_path, scenario)


def test_a_class_value_cannot_change(tmp_path: Path) -> None:
    async def scenario(admin: ApiClient) -> None:
        pc = await admin.create(priority_class("high", 1000))
        pc.value = 2000
        with pytest.raises(Invalid, match="may not be changed in an update"):
            await admin.update(pc)

    run(tmp_path, scenario)


def count_reads(monkeypatch: pytest.MonkeyPatch, storage: object) -> list[tuple[object, ...]]:
    """The store reads made through `storage` from now on (the calls still happen)."""
    reads: list[tuple[object, ...]] = []
    for method in ("get", "list_page"):
        real = getattr(storage, method)

        def counted(
            *args: object, _real: Callable[..., Awaitable[object]] = real, **kwargs: object
        ) -> object:
            reads.append(args)
            return _real(*args, **kwargs)

        monkeypatch.setattr(storage, method, counted)
    return reads


def test_admission_reads_classes_from_the_watch_cache_and_sees_this_servers_writes_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        registry = plane.api.registry
        cache = registry.caches[resources.PRIORITYCLASSES.name]
        held: list[object] = []
        with monkeypatch.context() as lagging:
            lagging.setattr(cache, "_apply", held.append)  # the cache lags: it applies nothing
            reads = count_reads(lagging, registry._storage)
            await admin.create(priority_class("default", 10, global_default=True))
            assert (await admin.create(web("a"))).spec.priority == 10
            await admin.delete(resources.PRIORITYCLASSES, "", "default")
            assert (await admin.create(web("b"))).spec.priority == 0
            assert reads and held  # from the store, while the cache lagged behind these writes
        for batch in held:  # the cache catches up
            cache._apply(batch)  # type: ignore[arg-type]
        await admin.create(priority_class("high", 1000))
        async with asyncio.timeout(10):
            while resources.PRIORITYCLASSES.key("", "high") not in cache.objects:
                await asyncio.sleep(0.01)
        reads = count_reads(monkeypatch, registry._storage)
        assert (await admin.create(web("c", priorityClassName="high"))).spec.priority == 1000
        assert (await admin.create(web("d"))).spec.priority == 0
        assert reads == []  # the classes came from the cache

    run_on_plane(tmp_path, scenario)
