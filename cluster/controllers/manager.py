"""The controller manager: every controller on one set of shared informers, in one process.

`run()` starts the informers and each controller's event recorder, waits until every informer
has listed, then runs the controllers. It runs only while this replica leads (the component
wraps it in leader election); any controller's bug ends it, and with it the component.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from cluster.client.api import ApiClient
from cluster.client.events import EventRecorder
from cluster.controllers.deployment.controller import DeploymentController
from cluster.controllers.endpointslice.controller import EndpointSliceController
from cluster.controllers.garbagecollector.collector import GarbageCollector
from cluster.controllers.informers import SharedInformers
from cluster.controllers.namespace.controller import NamespaceController
from cluster.controllers.nodelifecycle.controller import NodeLifecycleConfig, NodeLifecycleController
from cluster.controllers.replicaset.controller import ReplicaSetController
from cluster.controllers.serviceaccount.controller import ServiceAccountController
from cluster.supervision import run_forever


class Runs(Protocol):
    name: str

    async def run(self) -> None: ...


@dataclass(frozen=True)
class ControllerManagerConfig:
    node_lifecycle: NodeLifecycleConfig = field(default_factory=NodeLifecycleConfig)
    resync: float = 30.0  # seconds between informer resyncs (every object handed over again)


class ControllerManager:
    def __init__(self, client: ApiClient, config: ControllerManagerConfig | None = None, *, host: str = ""):
        config = config or ControllerManagerConfig()
        self.informers = SharedInformers(client, resync=config.resync)
        self.recorders: list[EventRecorder] = []

        def recorder(component: str) -> EventRecorder:
            self.recorders.append(EventRecorder(client, component, host))
            return self.recorders[-1]

        self.replicasets = ReplicaSetController(client, self.informers, recorder("replicaset-controller"))
        self.deployments = DeploymentController(client, self.informers, recorder("deployment-controller"))
        self.garbage_collector = GarbageCollector(client, self.informers)
        self.endpoint_slices = EndpointSliceController(client, self.informers)
        self.namespaces = NamespaceController(client, self.informers)
        self.service_accounts = ServiceAccountController(client, self.informers)
        self.nodes = NodeLifecycleController(
            client, self.informers, recorder("node-controller"), config.node_lifecycle
        )
        self.controllers: list[Runs] = [
            self.replicasets, self.deployments, self.garbage_collector, self.namespaces, self.nodes,
            self.endpoint_slices, self.service_accounts,
        ]  # fmt: skip

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            run_forever(tasks, "informers", self.informers.run())
            for recorder in self.recorders:
                run_forever(tasks, f"{recorder.component} events", recorder.run())
            await self.informers.synced()
            for controller in self.controllers:
                run_forever(tasks, controller.name, controller.run())
