"""The real etcd client (Debian's etcdctl 3.4, API v3) against our store on 127.0.0.1."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from .cluster import InProcessCluster
from .conftest import StoreThread

ETCDCTL = shutil.which("etcdctl")
pytestmark = pytest.mark.skipif(ETCDCTL is None, reason="needs Debian's etcd-client package (etcdctl 3.4)")


class Etcdctl:
    def __init__(self, target: str) -> None:
        assert ETCDCTL is not None
        self.argv = [ETCDCTL, f"--endpoints={target}", "--dial-timeout=5s", "--command-timeout=10s"]
        self.env = {**os.environ, "ETCDCTL_API": "3"}

    def __call__(
        self, *args: str, stdin: str | None = None, ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*self.argv, *args], input=stdin, capture_output=True, text=True, env=self.env, timeout=30
        )
        if ok:
            assert done.returncode == 0, done.stderr
        return done

    def background(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*self.argv, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env
        )


@pytest.fixture
def etcdctl(store: StoreThread) -> Etcdctl:
    return Etcdctl(store.target)


def test_put_get_prefix_del(etcdctl: Etcdctl) -> None:
    assert etcdctl("put", "/reg/pods/a", "one").stdout == "OK\n"
    etcdctl("put", "/reg/pods/b", "two")
    etcdctl("put", "/reg/svc/x", "three")
    assert etcdctl("get", "--prefix", "/reg/pods/").stdout.split() == [
        "/reg/pods/a",
        "one",
        "/reg/pods/b",
        "two",
    ]
    as_json = json.loads(etcdctl("get", "--prefix", "/reg/", "--keys-only", "-w", "json").stdout)
    assert as_json["count"] == 3 and as_json["header"]["revision"] == 4
    assert etcdctl("del", "--prefix", "/reg/pods/").stdout == "2\n"
    assert etcdctl("get", "--prefix", "/reg/").stdout.split() == ["/reg/svc/x", "three"]


def test_watch_in_the_background(etcdctl: Etcdctl) -> None:
    etcdctl("put", "w/old", "0")
    watcher = etcdctl.background("watch", "--prefix", "w/", "--rev=1")
    lines: queue.Queue[str] = queue.Queue()
    out = watcher.stdout
    assert out is not None

    def read() -> None:
        for line in out:
            lines.put(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert [lines.get(timeout=10) for _ in range(3)] == ["PUT", "w/old", "0"]  # replayed from revision 1
        etcdctl("put", "w/new", "1")
        etcdctl("del", "w/old")
        etcdctl("put", "other", "x")
        assert [lines.get(timeout=10) for _ in range(5)] == ["PUT", "w/new", "1", "DELETE", "w/old"]
    finally:
        os.kill(watcher.pid, signal.SIGTERM)
        watcher.wait(10)
        reader.join(5)


def test_txn_from_interactive_stdin(etcdctl: Etcdctl) -> None:
    etcdctl("put", "k", "v1")
    script = 'value("k") = "v1"\n\nput k v2\nput other yes\n\nget k\n\n'
    out = etcdctl("txn", "--interactive", stdin=script).stdout
    assert "SUCCESS" in out and out.count("OK") == 2
    assert etcdctl("get", "k", "--print-value-only").stdout == "v2\n"
    out = etcdctl("txn", "--interactive", stdin=script).stdout  # now k is v2: the else branch runs
    assert "FAILURE" in out and out.rstrip().endswith("k\nv2")


def test_compaction(etcdctl: Etcdctl) -> None:
    for i in range(3):
        etcdctl("put", "c", str(i))  # revisions 2..4
    assert etcdctl("get", "c", "--rev=2", "--print-value-only").stdout == "0\n"
    assert etcdctl("compaction", "3").stdout == "compacted revision 3\n"
    failed = etcdctl("get", "c", "--rev=2", ok=False)
    assert failed.returncode != 0 and "required revision has been compacted" in failed.stderr
    assert etcdctl("get", "c", "--rev=3", "--print-value-only").stdout == "1\n"


def test_lease_grant_put_keep_alive(etcdctl: Etcdctl) -> None:
    granted = etcdctl("lease", "grant", "60").stdout  # "lease 694d... granted with TTL(60s)"
    lease = granted.split()[1]
    assert granted.endswith("granted with TTL(60s)\n")
    etcdctl("put", "--lease", lease, "eph", "v")
    assert (
        etcdctl("lease", "keep-alive", "--once", lease).stdout == f"lease {lease} keepalived with TTL(60)\n"
    )
    ttl = etcdctl("lease", "timetolive", lease, "--keys").stdout
    assert f"lease {lease} granted with TTL(60s)" in ttl and "attached keys([eph])" in ttl
    assert lease in etcdctl("lease", "list").stdout
    assert etcdctl("lease", "revoke", lease).stdout == f"lease {lease} revoked\n"
    assert etcdctl("get", "eph").stdout == ""


def test_endpoint_status(etcdctl: Etcdctl, store: StoreThread) -> None:
    etcdctl("put", "a", "b")
    status = json.loads(etcdctl("endpoint", "status", "-w", "json").stdout)[0]["Status"]
    assert status["version"].startswith("3.4")
    assert status["leader"] == status["header"]["member_id"] == store.node.replicator.status().member_id
    assert status["raftIndex"] in (3, 4) and status["header"]["revision"] == 2  # see test_grpc's test_status
    assert "is healthy" in etcdctl("endpoint", "health").stderr + etcdctl("endpoint", "health").stdout


def test_a_three_member_cluster(tmp_path: Path) -> None:
    cluster = InProcessCluster(tmp_path)
    try:
        leader = cluster.leader()
        follower, other = cluster.followers()
        assert Etcdctl(follower.target)("put", "shared", "from-a-follower").stdout == "OK\n"
        assert Etcdctl(other.target)("get", "shared", "--print-value-only").stdout == "from-a-follower\n"
        everyone = Etcdctl(",".join(node.target for node in cluster.nodes.values()))
        rows = json.loads(everyone("endpoint", "status", "-w", "json").stdout)
        assert len(rows) == 3 and {row["Status"]["leader"] for row in rows} == {leader.node.member_id}
        assert len({row["Status"]["raftTerm"] for row in rows}) == 1
        listed = json.loads(everyone("member", "list", "-w", "json").stdout)["members"]
        assert sorted(int(m["ID"]) for m in listed) == sorted(
            n.node.member_id for n in cluster.nodes.values()
        )
        assert sorted(m["peerURLs"][0] for m in listed) == sorted(
            f"http://{a}" for a in cluster.peers.values()
        )
        lease = Etcdctl(other.target)("lease", "grant", "60").stdout.split()[1]
        kept = Etcdctl(follower.target)("lease", "keep-alive", "--once", lease).stdout
        assert kept == f"lease {lease} keepalived with TTL(60)\n"  # answered by the leader, via a follower
        moved = Etcdctl(leader.target)("move-leader", f"{follower.node.member_id:x}").stdout
        assert "Leadership transferred" in moved and cluster.leader() is follower
    finally:
        cluster.close()
