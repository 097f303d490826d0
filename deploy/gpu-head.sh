#!/bin/sh
# The GPU head's container (compose.gpu-head.yml): Ray's head, the GPU service, then wait.
# Reads RAY_NODE_IP, MJ_REPLICAS (and RAY_AUTH_MODE, RAY_AUTH_TOKEN) from the environment.
set -eu
trap 'ray stop; exit 0' INT TERM

# 1. Ray's head, advertised on this machine's private address; no dashboard.
ray start --head --node-ip-address="$RAY_NODE_IP" --port=6379 --include-dashboard=false \
    --object-store-memory=4000000000 --disable-usage-stats --block &
ray_pid=$!

# 2. Wait until it answers; a Ray that died ends the container (compose restarts it).
until ray status --address="$RAY_NODE_IP:6379" >/dev/null 2>&1; do
    kill -0 "$ray_pid" 2>/dev/null || exit 1
    sleep 2
done

# 3. The GPU service on port 8000 (MJ_GPU_HOST=127.0.0.1 behind a TLS proxy): one replica per
#    GPU the cluster has now. With more replicas than GPUs, it waits for worker nodes.
mjbot gpu deploy --replicas "${MJ_REPLICAS:-1}" --host "${MJ_GPU_HOST:-0.0.0.0}"

# 4. Live as long as Ray's head does.
wait "$ray_pid"
