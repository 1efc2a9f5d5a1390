#!/usr/bin/env bash
# Installs what Pockitect's sandbox and tests need and a fresh machine lacks:
# redis-server and redis-cli (Debian packages; the cluster tests create their cluster with
# redis-cli), moto's server (PyPI), and a private Secret Service for the
# keyring tests (dbus-daemon + gnome-keyring, Debian packages). Safe to run again.
set -euo pipefail

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "installing redis-server and redis-tools (Debian packages)…" >&2
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq redis-server redis-tools >/dev/null
  # Debian starts a system-wide instance on 6379; Pockitect's tests start their own.
fi

if ! command -v gnome-keyring-daemon >/dev/null 2>&1 || ! command -v dbus-daemon >/dev/null 2>&1; then
  echo "installing dbus + gnome-keyring (Debian packages, for the OS keyring tests)…" >&2
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq dbus-daemon gnome-keyring >/dev/null
fi

if ! command -v moto_server >/dev/null 2>&1 || ! python3 -c 'import moto, flask, flask_cors' >/dev/null 2>&1; then
  echo "installing moto[server] (PyPI)…" >&2
  python3 -m pip install --quiet --disable-pip-version-check 'moto[server]>=5,<6'
  hash -r
fi

command -v redis-server >/dev/null && command -v redis-cli >/dev/null && command -v moto_server >/dev/null \
  && command -v gnome-keyring-daemon >/dev/null && command -v dbus-daemon >/dev/null || {
  echo "error: redis-server, redis-cli, moto_server, dbus-daemon or gnome-keyring-daemon still missing after install; check PATH" >&2
  exit 1
}
