#!/bin/bash
# First boot of the Locus instance (cloud-init runs this once). infra/aws/user-data.ts fills in
# the settings below: names, addresses and the ARNs of the secrets, never a secret itself. It
# fetches the repository at the pinned ref and hands over to infra/aws/instance/bootstrap.sh from
# that very checkout, so the instance runs what the ref holds and nothing from elsewhere.
set -euo pipefail
install -d -m 755 /etc/locus
cat >/etc/locus/deploy.env <<'LOCUS_DEPLOY_ENV'
@DEPLOY_ENV@
LOCUS_DEPLOY_ENV
chmod 644 /etc/locus/deploy.env
. /etc/locus/deploy.env

if [ -z "$LOCUS_REPOSITORY" ] || [ -z "$LOCUS_REF" ]; then
  echo "locus: no repository or ref was set when the stack was synthesised (-c repository=… -c ref=…; docs/aws.md)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends git ca-certificates
if [ ! -d /opt/locus/src/.git ]; then
  install -d -m 755 /opt/locus/src
  git -C /opt/locus/src init -q
  git -C /opt/locus/src remote add origin "$LOCUS_REPOSITORY"
fi
git -C /opt/locus/src fetch -q --depth 1 origin "$LOCUS_REF"
git -C /opt/locus/src checkout -q --detach FETCH_HEAD
exec /opt/locus/src/infra/aws/instance/bootstrap.sh
