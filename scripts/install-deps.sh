#!/usr/bin/env bash
# Installs what the build, the tests and the demo need, from Debian's registry, only when missing.
# (postgresql-15 ships the contrib modules on Debian 12: dblink is used by the tests.)
set -euo pipefail
need=()
# chromium: the demo smoke test renders demo/report.html in a real headless browser.
for pkg in postgresql-15 postgresql-server-dev-15 libpq-dev catch2 cmake g++ make sqlsmith python3-psycopg chromium; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing packages: ${need[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
