"""Well-known label, annotation, taint and finalizer names (Kubernetes' own), shared by every component."""

from __future__ import annotations

LABEL_HOSTNAME = "kubernetes.io/hostname"
LABEL_OS = "kubernetes.io/os"

# Taints the node lifecycle controller puts on nodes whose Ready condition is False / Unknown.
TAINT_NODE_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_NODE_UNREACHABLE = "node.kubernetes.io/unreachable"

# Workloads: the label that tells a Deployment's ReplicaSets (and their pods) apart, and the
# annotations a Deployment's ReplicaSets carry.
POD_TEMPLATE_HASH = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"

# Finalizers of the garbage collector (deleteOptions.propagationPolicy Orphan / Foreground).
FINALIZER_ORPHAN = "orphan"
FINALIZER_FOREGROUND = "foregroundDeletion"
PROPAGATION_POLICIES = ("Orphan", "Background", "Foreground")

# Namespaces every cluster has; nodes' heartbeat Leases live in kube-node-lease.
NAMESPACE_DEFAULT = "default"
NAMESPACE_SYSTEM = "kube-system"
NAMESPACE_PUBLIC = "kube-public"
NAMESPACE_NODE_LEASE = "kube-node-lease"
SYSTEM_NAMESPACES = (NAMESPACE_DEFAULT, NAMESPACE_SYSTEM, NAMESPACE_PUBLIC, NAMESPACE_NODE_LEASE)
NAMESPACE_FINALIZER = "kubernetes"  # in a Namespace's spec until the namespace controller emptied it
