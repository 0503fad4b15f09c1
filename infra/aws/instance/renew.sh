#!/bin/bash
# Run by locus-tls-renew.timer: renews the server certificate when fewer than 30 days remain (or
# when a domain still has a self-signed stand-in), then restarts Mosquitto and the hub, which
# read it at start. Let's Encrypt's TLS-ALPN-01 challenge needs port 443, so the hub is stopped
# for the seconds it takes; Mosquitto keeps taking fixes meanwhile and queues them for the hub.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. /etc/locus/deploy.env
tls=/etc/locus/tls
host=${LOCUS_DOMAIN:-$LOCUS_PUBLIC_IP}
if [ -n "$LOCUS_DOMAIN" ]; then
  # A self-signed stand-in (ca.pem present) is replaced as soon as Let's Encrypt answers.
  if ! "$here/locus-tls.sh" due "$tls" "$host" && [ ! -s "$tls/ca.pem" ]; then exit 0; fi
  systemctl stop locus-hub
  result=$("$here/locus-tls.sh" acme "$tls" "$LOCUS_DOMAIN" "$LOCUS_ACME_EMAIL" || echo failed)
  systemctl start locus-hub
  [ "$result" = failed ] && exit 1
else
  "$here/locus-tls.sh" due "$tls" "$host" || exit 0
  result=$("$here/locus-tls.sh" self-signed "$tls" "$host")
fi
if [ "$result" = changed ]; then
  "$here/publish-ca.sh"
  systemctl restart locus-mosquitto locus-hub
fi
