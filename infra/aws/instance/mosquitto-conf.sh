#!/bin/sh
# Writes the instance's Mosquitto config from the repository's infra/mosquitto/mosquitto.conf (the
# one docker-compose.yml mounts), changing only what differs outside the container:
#
#   - plain MQTT (listener 1883) listens on loopback only: the hub on this instance uses it,
#     and the security group would not let anyone else reach it anyway;
#   - the dynamic security plugin's path is the distribution's (multiarch directory);
#   - /mosquitto/config/, /mosquitto/data/ and /mosquitto/certs/ become the instance's directories.
#
#   mosquitto-conf.sh REPO_CONF OUT PLUGIN CONFIG_DIR DATA_DIR CERTS_DIR
#
# Fails when the committed file no longer has a line this relies on, instead of writing a config
# that silently listens in the open or loses the accounts.
set -eu

[ $# -eq 6 ] || { echo "usage: mosquitto-conf.sh REPO_CONF OUT PLUGIN CONFIG_DIR DATA_DIR CERTS_DIR" >&2; exit 2; }
src=$1 out=$2 plugin=$3 config=${4%/}/ data=${5%/}/ certs=${6%/}/

for line in "listener 1883" "listener 8883" "plugin /usr/lib/mosquitto_dynamic_security.so" \
  "plugin_opt_config_file /mosquitto/data/dynamic-security.json" "allow_anonymous false"; do
  grep -qx "$line" "$src" || { echo "mosquitto-conf: $src has no line \"$line\"" >&2; exit 1; }
done
[ -f "$plugin" ] || { echo "mosquitto-conf: no dynamic security plugin at $plugin (is mosquitto installed?)" >&2; exit 1; }

# | separates sed's fields: none of these paths holds one.
sed -e '/^#/!s|^listener 1883$|listener 1883 127.0.0.1|' \
  -e "/^#/!s|^plugin /usr/lib/mosquitto_dynamic_security.so\$|plugin $plugin|" \
  -e "/^#/!s|/mosquitto/config/|$config|g" \
  -e "/^#/!s|/mosquitto/data/|$data|g" \
  -e "/^#/!s|/mosquitto/certs/|$certs|g" \
  "$src" >"$out.tmp"
mv "$out.tmp" "$out"
