#!/bin/bash
set -euxo pipefail
dnf install -y java-17-amazon-corretto-headless python3-pip
mkdir -p @HOME@
@INSTALL_PACKAGES@
cat > @RUNNER_PATH@ <<'RUNNER'
@RUNNER_SCRIPT@
RUNNER
chmod 755 @RUNNER_PATH@
touch @READY_MARKER@
