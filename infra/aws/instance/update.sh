#!/bin/bash
# Moves the instance to another commit, tag or branch of its repository and runs the bootstrap
# again (it is idempotent: secrets, certificate, database and accounts are kept).
#
#   sudo /opt/locus/src/infra/aws/instance/update.sh REF
set -euo pipefail
[ $# -eq 1 ] && [[ $1 =~ ^[A-Za-z0-9._/-]{1,200}$ ]] ||
  { echo "usage: update.sh REF (a commit, tag or branch)" >&2; exit 2; }
src=/opt/locus/src
git -C "$src" fetch -q --depth 1 origin "$1"
git -C "$src" checkout -q --detach FETCH_HEAD
sed -i "s|^LOCUS_REF=.*|LOCUS_REF='$1'|" /etc/locus/deploy.env
exec "$src/infra/aws/instance/bootstrap.sh"
