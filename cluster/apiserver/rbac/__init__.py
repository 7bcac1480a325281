"""RBAC, as Kubernetes does it: roles and bindings are objects in the store, and every request is
allowed only if some rule of a role bound to the caller covers it.

    rules.py       does a rule allow a request, does a set of rules cover another (pure)
    authorizer.py  the authorizer: the caller's bindings from the watch caches, plus the node
                   restriction (a kubelet writes only its own Node, Lease and pods)
    bootstrap.py   the roles and bindings every cluster starts with (cluster-admin, admin, edit,
                   view, the components' own)
    validation.py  what a Role, ClusterRole, binding or ServiceAccount must look like
"""
