#!/usr/bin/env bash
# The walking skeleton, end to end: bring up a local cluster, run a Pod from a manifest, show it
# Running, and show that its container answers; then a Deployment behind a Service, answering
# through its ClusterIP. The cluster stays up afterwards; `raykube down` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
raykube=.venv/bin/raykube
step() { printf '\n\033[1m$ raykube %s\033[0m\n' "$*"; "$raykube" "$@"; }

step up
step apply -f examples/busybox-httpd.yaml
step wait pod/httpd --for=condition=Ready --timeout=180s
step get pods -o wide
step get nodes
ip=$("$raykube" get pod httpd -o 'jsonpath={.status.podIP}')
printf '\n\033[1m$ curl http://%s:8080/\033[0m\n' "$ip"
curl -sS --max-time 10 "http://$ip:8080/"
step logs httpd
printf '\nThe pod runs as a real Podman container:\n'
CONTAINERS_CONF=agents/kubelet/containers.conf podman ps --filter label=io.raykube.pod-name=httpd \
  --format '  {{.Names}}  {{.Image}}  {{.Status}}'

printf '\nA Deployment of three behind a Service, reached through its ClusterIP (the proxy'"'"'s nftables rules):\n'
step apply -f examples/deployment.yaml
step rollout status deployment/web --timeout=180s
"$raykube" get service web >/dev/null 2>&1 || step expose deployment/web --port=80 --target-port=8080
step get service web
step get endpoints web
cluster_ip=$("$raykube" get service web -o 'jsonpath={.spec.clusterIP}')
printf '\n\033[1m$ curl http://%s/  (three times)\033[0m\n' "$cluster_ip"
for _ in 1 2 3; do
  curl -sS --max-time 5 --retry 10 --retry-connrefused --retry-delay 1 "http://$cluster_ip/"
done
printf '\nThe same cluster through real kubectl, over HTTPS with the kubeconfig `raykube up` wrote:\n'
export KUBECONFIG=${RAYKUBE_HOME:-$HOME/.raykube}/kubeconfig
kubectl_() { printf '\n\033[1m$ kubectl %s\033[0m\n' "$*"; kubectl "$@"; }
kubectl_ version
kubectl_ apply -f examples/kubectl-pod.yaml
kubectl_ wait pod/hello-kubectl --for=condition=Ready --timeout=180s
kubectl_ get pods -o wide
kubectl_ auth can-i delete nodes
printf '\nThe cluster is still up (export KUBECONFIG=%s for kubectl): try `.venv/bin/raykube describe service web`;\n`.venv/bin/raykube down` stops it all.\n' "$KUBECONFIG"
