#!/bin/bash
# Brings the instance to the running production stack: Mosquitto (TLS listener, accounts kept by
# the hub), PostgreSQL with PostGIS (or Amazon RDS), the hub on HTTPS, each under systemd with
# restart on failure and at boot, logs and metrics to CloudWatch. user-data.sh runs it on the
# first boot and update.sh after moving the checkout; it is idempotent: what exists is kept
# (secrets, certificate, database, broker accounts) and what comes from the repository is
# installed again. Settings come from /etc/locus/deploy.env (no secrets there); secrets are read
# from Secrets Manager by ARN into root-only files.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../.." && pwd)
# shellcheck source=/dev/null
. /etc/locus/deploy.env
export DEBIAN_FRONTEND=noninteractive AWS_DEFAULT_REGION=$LOCUS_REGION
# cloud-init may run this without HOME; npm needs one for its cache.
export HOME=${HOME:-/root} npm_config_cache=/var/cache/locus-npm
log() { echo "locus-bootstrap: $*"; }
tls=/etc/locus/tls
# Ports and listen address: the deployed defaults unless deploy.env says otherwise (the stack never
# does; a test root sharing a machine's network with other services does).
https_port=${LOCUS_HTTPS_PORT:-443} mqtts_port=${LOCUS_MQTTS_PORT:-8883}
mqtt_port=${LOCUS_MQTT_PORT:-1883} db_port=${LOCUS_DB_PORT:-5432}
listen=${LOCUS_LISTEN_ADDRESS:-}

# --- Memory: npm ci and the hub on a 1 GiB instance need swap --------------------------------
mem_kib=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
if [ "$mem_kib" -lt 2097152 ] && [ ! -e /swapfile ]; then
  log "adding 2 GiB of swap"
  fallocate -l 2G /swapfile && chmod 600 /swapfile && mkswap -q /swapfile
  echo '/swapfile none swap sw 0 0' >>/etc/fstab
fi
swapon --show | grep -q /swapfile || swapon /swapfile 2>/dev/null || true

# --- Packages from the distribution ----------------------------------------------------------
packages=(nodejs npm python3 make g++ openssl mosquitto mosquitto-clients jq curl unzip logrotate)
[ -n "$LOCUS_DOMAIN" ] && packages+=(lego)
if [ "$LOCUS_DATABASE" = local ]; then
  pg=$(apt-cache depends postgresql | sed -n 's/^ *Depends: postgresql-\([0-9][0-9]*\)$/\1/p' | head -n 1)
  [ -n "$pg" ] || { log "cannot tell which PostgreSQL the distribution ships"; exit 1; }
  packages+=(postgresql "postgresql-$pg-postgis-3")
else
  packages+=(postgresql-client)
fi
apt-get update -q
# The AWS CLI reads the secrets: Debian's package where the release has one, else AWS's own build.
apt-cache show awscli >/dev/null 2>&1 && packages+=(awscli)
apt-get install -y -q --no-install-recommends "${packages[@]}"
if ! command -v aws >/dev/null; then
  curl -fsSL --retry 5 -o /tmp/awscliv2.zip "https://awscli.amazonaws.com/awscli-exe-linux-$(uname -m).zip"
  rm -rf /tmp/aws && unzip -q /tmp/awscliv2.zip -d /tmp && /tmp/aws/install --update
  rm -rf /tmp/aws /tmp/awscliv2.zip
fi
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=10)?0:1)' ||
  { log "Node $(node --version) is older than the hub needs (20.10)"; exit 1; }

# --- AWS agents: Session Manager and CloudWatch, from AWS's regional buckets ------------------
# LOCUS_WITHOUT_AWS_AGENTS=1 (environment, never deploy.env) leaves them out where AWS's buckets
# cannot be reached: a test root off AWS.
aws_agents=$([ "${LOCUS_WITHOUT_AWS_AGENTS:-}" = 1 ] && echo no || echo yes)
deb_arch=$(dpkg --print-architecture)
install_deb() { # NAME URL
  dpkg -s "$1" >/dev/null 2>&1 && return
  curl -fsSL --retry 5 -o "/tmp/$1.deb" "$2"
  apt-get install -y -q "/tmp/$1.deb"
  rm -f "/tmp/$1.deb"
}
if [ "$aws_agents" = yes ]; then
  install_deb amazon-ssm-agent \
    "https://s3.$LOCUS_REGION.amazonaws.com/amazon-ssm-$LOCUS_REGION/latest/debian_$deb_arch/amazon-ssm-agent.deb"
  install_deb amazon-cloudwatch-agent \
    "https://amazoncloudwatch-agent-$LOCUS_REGION.s3.$LOCUS_REGION.amazonaws.com/debian/$deb_arch/latest/amazon-cloudwatch-agent.deb"
  systemctl enable --now amazon-ssm-agent
else
  log "LOCUS_WITHOUT_AWS_AGENTS=1: no Session Manager or CloudWatch agent"
fi

# --- Users and directories ---------------------------------------------------------------------
getent group locus-tls >/dev/null || groupadd --system locus-tls
id locus >/dev/null 2>&1 || useradd --system --home-dir /var/lib/locus/hub --shell /usr/sbin/nologin locus
usermod -aG locus-tls locus
usermod -aG locus-tls mosquitto
install -d -m 755 /etc/locus /etc/locus/mosquitto /var/lib/locus /var/log/locus
install -d -m 750 -o root -g locus-tls "$tls"
install -d -m 700 -o locus -g locus /var/lib/locus/hub
install -d -m 700 -o mosquitto -g mosquitto /var/lib/locus/mosquitto

# --- Secrets: read by ARN, written for root (and the hub's group) only ------------------------
secret() { aws secretsmanager get-secret-value --secret-id "$1" --query SecretString --output text; }
api_token=$(secret "$LOCUS_API_TOKEN_SECRET_ARN")
mqtt_password=$(secret "$LOCUS_MQTT_SECRET_ARN")
if [ "$LOCUS_DATABASE" = local ]; then
  db_password=$(secret "$LOCUS_DB_SECRET_ARN")
  db_url="postgres://locus:$db_password@127.0.0.1:$db_port/locus"
else
  db=$(secret "$LOCUS_DB_SECRET_ARN")
  # RDS forces TLS; the hub verifies the server against Amazon RDS's published CA bundle.
  curl -fsSL --retry 5 -o /etc/locus/rds-ca.pem https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
  db_url=$(jq -r '"postgres://\(.username):\(.password)@\(.host):\(.port)/\(.dbname // "locus")?sslmode=verify-full&sslrootcert=/etc/locus/rds-ca.pem"' <<<"$db")
fi
umask 077
printf 'LOCUS_MQTT_USERNAME=locus-hub\nLOCUS_MQTT_PASSWORD=%s\n' "$mqtt_password" >/etc/locus/mosquitto.env
printf 'LOCUS_API_TOKEN=%s\nLOCUS_MQTT_USERNAME=locus-hub\nLOCUS_MQTT_PASSWORD=%s\nLOCUS_DATABASE_URL=%s\n' \
  "$api_token" "$mqtt_password" "$db_url" >/etc/locus/hub.env
umask 022
chgrp locus /etc/locus/hub.env && chmod 640 /etc/locus/hub.env

# --- PostgreSQL with PostGIS on the instance ---------------------------------------------------
if [ "$LOCUS_DATABASE" = local ]; then
  # The distribution made the cluster on 5432 when it installed PostgreSQL, before it started.
  pg_conftool -s "$pg" main get port | grep -qx "$db_port" || pg_conftool "$pg" main set port "$db_port"
  systemctl enable --now postgresql
  as_postgres() { runuser -u postgres -- psql -p "$db_port" -v ON_ERROR_STOP=1 -qAt "$@"; }
  # The password goes through stdin, never a command line another user could read in ps.
  if [ "$(as_postgres -c "SELECT 1 FROM pg_roles WHERE rolname = 'locus'")" != 1 ]; then
    as_postgres -c "CREATE ROLE locus LOGIN"
  fi
  printf "ALTER ROLE locus PASSWORD '%s';\n" "$db_password" | as_postgres
  if [ "$(as_postgres -c "SELECT 1 FROM pg_database WHERE datname = 'locus'")" != 1 ]; then
    as_postgres -c "CREATE DATABASE locus OWNER locus"
  fi
  # PostGIS is not a trusted extension: the superuser creates it, the hub finds it there.
  as_postgres -d locus -c "CREATE EXTENSION IF NOT EXISTS postgis"
fi

# --- TLS: Let's Encrypt for a domain, else this deployment's own CA -----------------------------
host=${LOCUS_DOMAIN:-$LOCUS_PUBLIC_IP}
systemctl stop locus-hub 2>/dev/null || true # frees 443 for the TLS-ALPN-01 challenge
if [ -n "$LOCUS_DOMAIN" ]; then
  "$here/locus-tls.sh" acme "$tls" "$LOCUS_DOMAIN" "$LOCUS_ACME_EMAIL" ||
    { log "no Let's Encrypt certificate yet: serving a self-signed one, retried by locus-tls-renew.timer"; "$here/locus-tls.sh" self-signed "$tls" "$host"; }
else
  "$here/locus-tls.sh" self-signed "$tls" "$host"
fi
"$here/publish-ca.sh"

# --- The hub, built from the checkout as the Dockerfile builds it --------------------------------
log "building the hub from $(git -C "$src" rev-parse HEAD)"
cd "$src"
npm ci --no-audit --no-fund --loglevel=error
node infra/hub/bundle.mjs dist/hub
npm ci --omit=dev --workspace=hub --no-audit --no-fund --loglevel=error

# --- Mosquitto: the repository's config, the distribution's broker -----------------------------
plugin=$(dpkg -L mosquitto | grep '/mosquitto_dynamic_security\.so$' | head -n 1)
"$here/mosquitto-conf.sh" "$src/infra/mosquitto/mosquitto.conf" /etc/locus/mosquitto/mosquitto.conf \
  "$plugin" /etc/locus/mosquitto /var/lib/locus/mosquitto "$tls"
sed -i -e "s/^listener 1883 127\.0\.0\.1\$/listener $mqtt_port 127.0.0.1/" \
  -e "s/^listener 8883\$/listener $mqtts_port${listen:+ $listen}/" /etc/locus/mosquitto/mosquitto.conf
# The distribution's own broker would take 1883 with its default config.
systemctl disable --now mosquitto 2>/dev/null || true
systemctl mask mosquitto

# --- systemd, logs, metrics ----------------------------------------------------------------------
install -m 644 "$here"/locus-*.service "$here"/locus-*.timer /etc/systemd/system/
# Ports or address other than the unit's own go in a drop-in; with the defaults there is none.
dropin=/etc/systemd/system/locus-hub.service.d
rm -f "$dropin/ports.conf"
if [ "$https_port" != 443 ] || [ "$mqtt_port" != 1883 ] || [ -n "$listen" ]; then
  install -d -m 755 "$dropin"
  printf '[Service]\nEnvironment=LOCUS_HTTP_PORT=%s\nEnvironment=LOCUS_MQTT_URL=mqtt://127.0.0.1:%s\n' \
    "$https_port" "$mqtt_port" >"$dropin/ports.conf"
  if [ -n "$listen" ]; then echo "Environment=LOCUS_HTTP_HOST=$listen" >>"$dropin/ports.conf"; fi
fi
install -m 644 "$here/logrotate.conf" /etc/logrotate.d/locus
if [ "$aws_agents" = yes ]; then
  sed -e "s|@LOG_GROUP_PREFIX@|$LOCUS_LOG_GROUP_PREFIX|g" "$here/cloudwatch-agent.json" \
    >/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json
  /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s \
    -c file:/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json
fi
systemctl daemon-reload
systemctl enable locus-mosquitto.service locus-hub.service locus-tls-renew.timer
systemctl restart locus-mosquitto.service
systemctl restart locus-hub.service
systemctl start locus-tls-renew.timer

for _ in $(seq 1 60); do
  if curl -fsS --cacert "$tls/fullchain.pem" --resolve "$host:$https_port:127.0.0.1" "https://$host:$https_port/api/v1/health" 2>/dev/null ||
    curl -fsSk "https://127.0.0.1:$https_port/api/v1/health" 2>/dev/null; then
    echo
    log "Locus is up: https://$host:$https_port and mqtts://$host:$mqtts_port"
    exit 0
  fi
  sleep 5
done
log "the hub did not answer /api/v1/health within 5 minutes: journalctl -u locus-hub, /var/log/locus/hub.log"
exit 1
