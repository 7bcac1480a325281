"""What each component is started with: one frozen dataclass per kind of component.

`raykube up` plans a `ComponentSpec` per actor (placement.py); the spec travels to the actor
through Ray and its settings are turned into a running component there (components.py). A spec's
digest identifies the configuration and placement, so `up` can tell that a running actor is
outdated (other settings, or another host it should run on).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from cluster.tls import Tls


@dataclass(frozen=True)
class StoreSettings:
    """One replica of the store; its Raft peers are the other replicas, at the addresses `up` planned."""

    name: str  # member name: store-0, store-1, ...
    data_dir: str
    host: str  # the address to bind (clients and peers)
    port: int  # etcd client port
    peer_port: int
    peers: Mapping[str, str]  # member name -> peer address (host:port), this one included
    tls: Tls  # serving and peer certificate (clients and peers present the CA's certificates)
    initial_cluster_state: str = "new"  # "existing": a member added later, joining `peers`


@dataclass(frozen=True)
class ApiServerSettings:
    store: tuple[str, ...]  # the store replicas' actor names
    tokens: str  # the token file's text (token,user,uid,"groups"): bearer tokens also authenticate
    tls: Tls  # serving certificate (REST and gRPC), also its client certificate towards the store
    kubelet_tls: Tls  # presented to kubelets when proxying logs (system:apiserver-kubelet-client)
    service_account_key: str  # signs ServiceAccount tokens (PEM)
    host: str
    port: int  # HTTPS REST, what kubectl dials
    grpc_port: int  # the gRPC API, what raykube's components and CLI dial
    service_cidr: str = "10.96.0.0/12"
    peer_hosts: tuple[str, ...] = ()  # every API server's address: the `kubernetes` Service's endpoints


@dataclass(frozen=True)
class SchedulerSettings:
    """One replica of the scheduler; replicas elect a leader through a Lease."""

    tls: Tls  # system:kube-scheduler
    apiservers: tuple[str, ...] = ("apiserver-0",)  # the API servers' actor names, the nearest first


@dataclass(frozen=True)
class ControllerManagerSettings:
    """One replica of the controller manager; replicas elect a leader through a Lease."""

    tls: Tls  # system:kube-controller-manager
    apiservers: tuple[str, ...] = ("apiserver-0",)
    node_monitor_grace_period: float = 20.0  # kube-controller-manager's --node-monitor-grace-period


@dataclass(frozen=True)
class KubeletSettings:
    node_name: str
    tls: Tls  # this node's certificate (system:node:<name>): as a client, and serving its logs
    host: str
    port: int
    run_dir: str  # the Podman API socket lives here
    cluster_dns: str = ""  # the kube-dns ClusterIP pods resolve names through ("": the runtime's default)
    cluster_domain: str = "cluster.local"
    apiservers: tuple[str, ...] = ("apiserver-0",)


@dataclass(frozen=True)
class ProxySettings:
    """The service proxy of one host: nftables rules for Services, and a DNS responder."""

    tls: Tls  # system:kube-proxy
    dns_ip: str  # the kube-dns ClusterIP, redirected to this host's responder
    dns_port: int  # where the responder listens on this host
    cluster_domain: str = "cluster.local"
    apiservers: tuple[str, ...] = ("apiserver-0",)


@dataclass(frozen=True)
class HollowNodesSettings:
    """Benchmark-only: `count` hollow nodes named `<prefix>-<i>` (agents/hollownode)."""

    tls: Tls  # the admin's: one credential speaks for every hollow node
    prefix: str
    count: int
    capacity: Mapping[str, str] = field(default_factory=dict)
    apiservers: tuple[str, ...] = ("apiserver-0",)
    labels: Mapping[str, str] = field(default_factory=dict)
    zones: tuple[str, ...] = ()
    taints: tuple[str, ...] = ()  # "key=value:Effect"
    run_pods: bool = True  # False: the nodes only exist (scheduler_perf's nodes)
    lease_period: float = 10.0


Settings = (
    StoreSettings
    | ApiServerSettings
    | SchedulerSettings
    | ControllerManagerSettings
    | KubeletSettings
    | ProxySettings
    | HollowNodesSettings
)


@dataclass(frozen=True)
class ComponentSpec:
    """One actor of the cluster: its name, the host it is pinned to, and its settings."""

    name: str
    host: str
    settings: Settings

    def digest(self) -> str:
        """Identifies the configuration and placement: equal specs, equal digest (the kind counts too).
        Fields left at their defaults do not count, so adding a field does not replace every actor."""
        defaults = {f.name: f.default for f in dataclasses.fields(self.settings)}
        settings = {k: v for k, v in dataclasses.asdict(self.settings).items() if v != defaults[k]}
        data = [self.name, self.host, type(self.settings).__name__, settings]
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
