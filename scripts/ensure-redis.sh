#!/usr/bin/env bash
# Makes sure a Redis answers at 127.0.0.1:6379 for the test suite: uses the one running,
# else starts redis-server (installing Debian's package when it is missing).
set -euo pipefail
ping() { (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && timeout 2 head -c 5 <&3 | grep -q PONG) 2>/dev/null; }
if ping; then exit 0; fi
if ! command -v redis-server >/dev/null 2>&1; then
    echo "ensure-redis: installing Debian's redis-server" >&2
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi
mkdir -p /tmp/intentgate-redis
redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/intentgate-redis --logfile /tmp/intentgate-redis/redis.log
for _ in $(seq 1 50); do ping && exit 0; sleep 0.1; done
echo "ensure-redis: redis-server did not answer on 127.0.0.1:6379" >&2
exit 1
