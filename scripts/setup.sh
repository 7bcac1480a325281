#!/usr/bin/env bash
# Set up raykube on a Debian 12 machine, as root; safe to run again (it only does what is missing):
#   1. system packages: podman + runc (the container runtime), busybox-static (the local test image),
#      docker-registry (a real local registry for pull tests), etcd-server/etcd-client (a real etcd
#      to compare against), nftables and its Python bindings (the service proxy), python3-venv,
#      redis-server (what the ansible play gives Ray's GCS on the head; the multihost test hosts are
#      overlays of this machine), and kubectl where there is none (Debian's kubernetes-client:
#      kubectl 1.20, which raykube serves);
#   2. a virtualenv in .venv with raykube installed (editable) and its dev tools;
#   3. the generated protobuf code (python -m cluster.codegen);
#   4. the local busybox image the examples run (scripts/busybox-image.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(podman runc catatonit busybox-static docker-registry etcd-server etcd-client redis-server
          python3 python3-venv iproute2 nftables python3-nftables curl ca-certificates)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
command -v kubectl >/dev/null || missing+=(kubernetes-client)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  # Installing etcd-server, docker-registry or redis-server would start their services on etcd's,
  # the registry's and Redis's ports; raykube runs its own store on etcd's and Ray's GCS on 6379.
  # Keep services from starting during the install.
  policy=/usr/sbin/policy-rc.d
  added_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
  [ -n "$added_policy" ] && rm -f "$policy"
  if [ -d /run/systemd/system ]; then
    systemctl disable --now etcd docker-registry redis-server >/dev/null 2>&1 || true
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
echo "setup: installing raykube into .venv (ray, grpcio, podman-py, ...)"
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
# Debian's libnftables bindings (pure Python over ctypes) into the venv, and nothing else of Debian's.
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
ln -sfn /usr/lib/python3/dist-packages/nftables "$site/nftables"
.venv/bin/python -m cluster.codegen
scripts/busybox-image.sh
echo "setup: done"
