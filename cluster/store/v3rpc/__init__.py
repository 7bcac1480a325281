"""The gRPC services a store replica serves (named after etcd's etcdserver/api/v3rpc).

To clients, etcd's v3 API: kv_service.py, watch_service.py (fed by watch.py's WatchHub),
lease_service.py, maintenance_service.py, cluster_service.py; rpc.py holds what they share
(etcd-shaped response headers, StoreError -> gRPC status). To peers: peer_service.py (Raft
messages in, the member list, leader-side lease calls). To tests only: admin_service.py.
"""
