"""The controller manager's controllers: each keeps one kind of desired state true over time.

    manager.py           ControllerManager: shared informers, event recorders, every controller
    controller.py        the base: a work queue of keys and workers that sync them, with back-off
    informers.py         shared informers: one list+watch per resource for all controllers
    owners.py            ownerReferences: controller refs, adoption and release (claim)
    replicaset/          keeps spec.replicas pods of a template (expectations, deletion ranking)
    deployment/          rolls templates out through ReplicaSets (RollingUpdate, Recreate, revisions)
    garbagecollector/    dependents go with their owners (Background, Foreground, Orphan)
    endpointslice/       a Service's ready and not-ready pods as EndpointSlices and Endpoints
    namespace/           empties a terminating namespace, then releases it
    nodelifecycle/       nodes that stop reporting: Unknown, taints, evictions

Controllers see the cluster only through the API (cluster.client), like the scheduler and kubelet.
"""
