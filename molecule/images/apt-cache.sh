#!/usr/bin/env bash
# Start the test hosts' apt cache (apt-cacher-ng on port 3142) unless it already answers.
# Test hosts use it through host.containers.internal and go direct when it is down.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
up() { timeout 1 bash -c 'echo > /dev/tcp/127.0.0.1/3142' 2>/dev/null; }
up && exit 0
mkdir -p /var/cache/apt-cacher-ng /var/log/apt-cacher-ng
/usr/sbin/apt-cacher-ng -c "$here/apt-cacher-ng" ForeGround=0 PidFile=/run/colostack-apt-cache.pid
for _ in $(seq 20); do up && exit 0; sleep 0.25; done
echo "apt-cacher-ng did not start; see /var/log/apt-cacher-ng/apt-cacher.err" >&2
exit 1
