#!/usr/bin/env bash
# Build the local busybox image that raykube's examples and tests run: nothing can be pulled from the
# internet here, so the image is Debian's static busybox in an otherwise empty root file system.
# Idempotent: does nothing when the image exists. Usage: scripts/busybox-image.sh [IMAGE]
set -euo pipefail
image=${1:-localhost/busybox:1.35}
here=$(cd "$(dirname "$0")/.." && pwd)
export CONTAINERS_CONF=$here/agents/kubelet/containers.conf  # runc + lowered ulimits (PLATFORM.md)

if podman image exists "$image"; then
  exit 0
fi
rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs"/{bin,etc,tmp,root,www}
chmod 1777 "$rootfs/tmp"
cp /bin/busybox "$rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
tar -C "$rootfs" -c . | podman import -q --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' - "$image" >/dev/null
echo "built $image"
