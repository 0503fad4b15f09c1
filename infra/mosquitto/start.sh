#!/bin/sh
# Starts Mosquitto for Locus (the mosquitto service's command in docker-compose.yml). Before
# Mosquitto runs it checks what Mosquitto would otherwise only log, and on the first start it
# makes the accounts file with the hub's account:
#
#   - the data directory must be writable by the user Mosquitto runs as (it saves sessions and
#     queued messages there, and the accounts file);
#   - the TLS certificate and key named in mosquitto.conf must be readable;
#   - without an accounts file, one is made from dynamic-security.template.json with the hub's
#     account: LOCUS_MQTT_USERNAME and LOCUS_MQTT_PASSWORD (from .env, never from the repository).
#     The template is valid JSON: its placeholders are strings, "@ITERATIONS@" a number once filled.
#     An existing file is left as it is: the hub and mosquitto_ctrl change it from then on.
#
#   start.sh            check, make the accounts file if needed, then run Mosquitto
#   start.sh --check    only check and make the accounts file; exit 0 when all is well
#
# MOSQUITTO_CONF (default /mosquitto/config/mosquitto.conf) names the config; the data directory
# is the directory of its plugin_opt_config_file; MOSQUITTO_USER (default mosquitto) the user
# Mosquitto drops to when started as root.
set -eu

conf=${MOSQUITTO_CONF:-/mosquitto/config/mosquitto.conf}
user=${MOSQUITTO_USER:-mosquitto}
here=$(cd "$(dirname "$0")" && pwd)
template=${MOSQUITTO_DYNSEC_TEMPLATE:-"$here/dynamic-security.template.json"}

die() {
  echo "mosquitto: $*" >&2
  exit 1
}

# setting NAME: the value of the first "NAME value" line of the config.
setting() {
  sed -n "s/^$1[[:space:]][[:space:]]*//p" "$conf" | head -n 1
}

[ -r "$conf" ] || die "cannot read the config $conf"
accounts=$(setting plugin_opt_config_file)
[ -n "$accounts" ] || die "$conf has no plugin_opt_config_file (the accounts file)"
data=$(dirname "$accounts")

# as_mosquitto CMD: runs the shell command CMD as the user Mosquitto runs as.
as_mosquitto() {
  if [ "$(id -u)" = 0 ] && id "$user" >/dev/null 2>&1; then
    su -s /bin/sh "$user" -c "$1"
  else
    sh -c "$1"
  fi
}

probe="$data/.locus-write-check.$$"
if ! as_mosquitto "touch '$probe' && rm -f '$probe'" 2>/dev/null; then
  die "Mosquitto (user $user) cannot write its data directory $data: sessions, queued fixes and accounts would not be saved. Give that user the directory (docker compose: the mosquitto-data volume; chown -R 1883:1883 for a bind mount)"
fi

for key in certfile keyfile; do
  file=$(setting "$key")
  [ -z "$file" ] && continue
  if ! as_mosquitto "test -r '$file'" 2>/dev/null; then
    die "cannot read the TLS $key $file as user $user: put the broker's certificate and key in the mounted certificate directory (docs/production.md, TLS)"
  fi
done

if [ ! -e "$accounts" ]; then
  name=${LOCUS_MQTT_USERNAME:-}
  password=${LOCUS_MQTT_PASSWORD:-}
  printf '%s' "$name" | grep -Eq '^[A-Za-z0-9_.-]{1,64}$' ||
    die "LOCUS_MQTT_USERNAME must be set to the hub's account name (1-64 of A-Z a-z 0-9 _ . -) to make $accounts"
  case $password in
    "" | change-me*) die "LOCUS_MQTT_PASSWORD must be set to the hub's own password (in .env) to make $accounts" ;;
  esac
  [ -r "$template" ] || die "cannot read $template"
  work=$(mktemp -d)
  # mosquitto_ctrl hashes the password as the plugin does; only the hash is kept.
  mosquitto_ctrl dynsec init "$work/init.json" "$name" "$password" >/dev/null ||
    { rm -rf "$work"; die "mosquitto_ctrl could not hash the hub's password"; }
  field() {
    sed -n "s/^[[:space:]]*\"$1\":[[:space:]]*\"*\([^\",]*\)\"*,*[[:space:]]*$/\1/p" "$work/init.json" | head -n 1
  }
  hash=$(field password)
  salt=$(field salt)
  iterations=$(field iterations)
  [ -n "$hash" ] && [ -n "$salt" ] && [ -n "$iterations" ] ||
    die "could not read the hashed password from mosquitto_ctrl's file"
  sed -e "s|@USERNAME@|$name|" -e "s|@PASSWORD_HASH@|$hash|" -e "s|@SALT@|$salt|" \
    -e "s|\"@ITERATIONS@\"|$iterations|" "$template" >"$work/accounts.json"
  cp "$work/accounts.json" "$accounts"
  rm -rf "$work"
  # It holds password hashes: Mosquitto's user alone reads and rewrites it.
  chmod 600 "$accounts"
  if [ "$(id -u)" = 0 ] && id "$user" >/dev/null 2>&1; then chown "$user" "$accounts"; fi
  echo "mosquitto: made $accounts with the hub's account $name"
fi

[ "${1:-}" = "--check" ] && exit 0
exec mosquitto -c "$conf"
