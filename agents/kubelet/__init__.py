"""The kubelet: runs the pods bound to this node as Podman containers and reports their status.

Layout (one idea per module):
    runtime.py         the container runtime Protocol, its value types and errors
    podman.py          the Runtime on a Podman API service (podman-py)
    podman_logs.py     container logs straight from the Podman socket (cancellable streams)
    podman_service.py  that service as a child process of the kubelet
    runtime_config.py  a Pod's spec as sandbox and container configs (pure)
    plan.py            desired vs actual for one pod: what to start/kill/remove (pure)
    backoff.py         restart and image-pull back-off (10 s doubling to 5 min)
    images.py          image pull policy: present / pull / ErrImageNeverPull / ImagePullBackOff
    pod_status.py      PodStatus from spec + runtime state + probe results (pure)
    status_manager.py  the one status writer of this node: only changes, newest wins
    pleg.py            relist the runtime and diff old vs new into pod events
    probes.py          exec / httpGet / tcpSocket probes
    probe_manager.py   one worker per probed container: thresholds, results
    sync.py            sync_pod and terminate_pod: carry the plan out against the runtime
    pod_workers.py     one worker per pod, keeping only the newest desired state
    node_status.py     Node registration and heartbeat
    node_lease.py      the node's heartbeat Lease in kube-node-lease, renewed every 10 s
    leftovers.py       `raykube down`'s safety net: a node's containers its kubelet could not remove
    server.py          the Kubelet gRPC service (container logs)
    kubelet.py         the Kubelet: wires it all into one loop with its own TaskGroup

Events (Pulling, Pulled, Created, Started, Killing, BackOff, Unhealthy, Failed) go through one
seam of the pod syncer, image puller and probe manager to the client's EventRecorder.

No Ray in here: a Ray actor wraps the Kubelet elsewhere.
"""
