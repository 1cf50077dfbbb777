#!/bin/bash
set -euo pipefail
cat > @SETUP_PATH@ <<'SETUP'
@SETUP_SCRIPT@
SETUP
chmod 700 @SETUP_PATH@
cat > /etc/systemd/system/ml-lab-setup.service <<'UNIT'
@SETUP_UNIT@
UNIT
systemctl daemon-reload
systemctl enable ml-lab-setup.service
systemctl start --no-block ml-lab-setup.service
