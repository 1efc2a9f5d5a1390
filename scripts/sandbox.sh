#!/usr/bin/env bash
# The whole job against a local sandbox: installs redis-server and moto when missing, starts
# them and the daemon in the background, seeds a small demo estate in the AWS emulator, scans
# every region and shows what it found, then deploys projects/example-blog.json and shows it.
# `scripts/sandbox.sh stop` stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
state="$root/.sandbox"
mkdir -p "$state"
redis_port=${POCKITECT_SANDBOX_REDIS_PORT:-6399}
moto_port=${POCKITECT_SANDBOX_MOTO_PORT:-5099}

stop() {
  for name in pockitectd moto; do
    if [ -f "$state/$name.pid" ]; then
      kill "$(cat "$state/$name.pid")" 2>/dev/null || true
      rm -f "$state/$name.pid"
    fi
  done
  redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  echo "sandbox stopped"
}
if [ "${1:-}" = "stop" ]; then stop; exit 0; fi

alive() { [ -f "$state/$1.pid" ] && kill -0 "$(cat "$state/$1.pid")" 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 150); do
    (echo >/dev/tcp/127.0.0.1/"$1") >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "error: nothing listens on port $1 ($2); see $state/$2.log" >&2
  exit 1
}

scripts/install-deps.sh
export PATH="$(dirname "$(command -v moto_server)"):$PATH"
echo "building pockitect (release; the first build compiles the AWS SDK and takes several minutes)…" >&2
cargo build --release --locked --bins -q

if ! redis-cli -p "$redis_port" ping >/dev/null 2>&1; then
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize yes --dir "$state" --logfile "$state/redis.log"
  wait_port "$redis_port" redis
fi
if ! alive moto; then
  nohup moto_server -H 127.0.0.1 -p "$moto_port" >"$state/moto.log" 2>&1 &
  echo $! >"$state/moto.pid"
  wait_port "$moto_port" moto
fi

export POCKITECT_REDIS_URL="redis://127.0.0.1:$redis_port"
export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"
export AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox AWS_REGION=us-east-1
unset AWS_PROFILE

if [ ! -f "$state/seeded" ]; then
  echo "seeding the emulator with a demo estate (2 regions)…" >&2
  python3 scripts/seed_moto.py --endpoint "$AWS_ENDPOINT_URL" --regions us-east-1,eu-west-1 --project demo >"$state/seeded"
fi

if ! alive pockitectd; then
  # Sandbox state (blueprint write-backs, keys, secrets) stays under .sandbox/, not in the repo.
  nohup target/release/pockitectd --projects-dir "$state/projects" --cache-dir "$state/cache" \
    --log-dir "$state/logs" --key-dir "$state/keys" --secrets-dir "$state/secrets" \
    >"$state/pockitectd.log" 2>&1 &
  echo $! >"$state/pockitectd.pid"
fi

pockitect=target/release/pockitect
for _ in $(seq 1 50); do
  $pockitect doctor >/dev/null 2>&1 && break
  sleep 0.2
done
$pockitect doctor
echo
$pockitect scan
echo
$pockitect resources --project demo
echo
echo "deploying the example blueprint projects/example-blog.json into the sandbox…" >&2
$pockitect deploy projects/example-blog.json --yes
echo
$pockitect status example-blog
cat <<MSG

The sandbox keeps running. Try, with the same environment:
  export POCKITECT_REDIS_URL=$POCKITECT_REDIS_URL
  $pockitect resources --region eu-west-1 --type ec2_instance
  $pockitect watch            # live events
  target/release/pockitect-tui
Stop it with: scripts/sandbox.sh stop
MSG
