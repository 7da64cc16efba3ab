#!/usr/bin/env bash
# Start the test hosts' apt cache (the project's apt-cacher-ng, port 3942) unless it already answers.
# Test hosts use it through host.containers.internal and go direct when it is down.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
up() { timeout 1 bash -c 'echo > /dev/tcp/127.0.0.1/3942' 2>/dev/null; }
up && exit 0
mkdir -p /var/cache/colostack-apt-cache /var/log/colostack-apt-cache
/usr/sbin/apt-cacher-ng -c "$here/apt-cacher-ng" ForeGround=0 PidFile=/run/colostack-apt-cache.pid
for _ in $(seq 20); do up && exit 0; sleep 0.25; done
echo "apt-cacher-ng did not start; see /var/log/colostack-apt-cache/apt-cacher.err" >&2
exit 1
