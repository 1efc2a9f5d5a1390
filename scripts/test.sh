#!/usr/bin/env bash
# Runs every test: installs redis-server and moto when missing, then the whole workspace.
# The tests start their own redis-server and moto_server on free ports.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Some shells (pyenv) put moto_server in a shim directory; make sure tests can find it.
export PATH="$(dirname "$(command -v moto_server)"):$PATH"
cargo test --workspace --locked "$@"
