"""Ansible's way into the rig's test hosts: `podman exec -i`, one per task.

The containers.podman collection's connection mounts the container and makes a temporary
directory, copies the module in and runs it: three or four podman calls per task and host, about
a second of a trivial task's two on this machine. Here modules travel over stdin (pipelining, as
ansible does over ssh when allowed), so a task is one `podman exec`. Files (copy, template) are
written through `cat` in the host. The processes run exactly as the collection's would: podman
exec puts them in the container's namespaces and cgroup, with its environment.
"""

from __future__ import annotations

import shlex
import subprocess

from ansible.errors import AnsibleError
from ansible.plugins.connection import ConnectionBase, ensure_connect

DOCUMENTATION = """
name: rig_podman
short_description: Run tasks in the rig's test-host containers, one podman exec each
description:
  - The inventory host's address (ansible_host) is the container's name.
  - Pipelining - modules are sent over the exec's stdin.
author: raykube
options: {}
"""


class Connection(ConnectionBase):
    transport = "rig_podman"
    has_pipelining = True

    def _connect(self) -> Connection:
        self._connected = True
        return self

    def _exec(self, command: str, in_data: bytes | None = None) -> tuple[int, bytes, bytes]:
        container = self._play_context.remote_addr
        done = subprocess.run(
            ["podman", "exec", "-i", container, "/bin/sh", "-c", command], input=in_data, capture_output=True
        )
        return done.returncode, done.stdout, done.stderr

    @ensure_connect
    def exec_command(
        self, cmd: str, in_data: bytes | None = None, sudoable: bool = True
    ) -> tuple[int, bytes, bytes]:
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        return self._exec(cmd, in_data)

    @ensure_connect
    def put_file(self, in_path: str, out_path: str) -> None:
        super().put_file(in_path, out_path)
        with open(in_path, "rb") as source:
            rc, _, err = self._exec(f"cat > {shlex.quote(out_path)}", source.read())
        if rc != 0:
            raise AnsibleError(
                f"writing {out_path} in {self._play_context.remote_addr}: {err.decode().strip()}"
            )

    @ensure_connect
    def fetch_file(self, in_path: str, out_path: str) -> None:
        super().fetch_file(in_path, out_path)
        rc, data, err = self._exec(f"cat {shlex.quote(in_path)}")
        if rc != 0:
            raise AnsibleError(
                f"reading {in_path} in {self._play_context.remote_addr}: {err.decode().strip()}"
            )
        with open(out_path, "wb") as target:
            target.write(data)

    def close(self) -> None:
        self._connected = False
