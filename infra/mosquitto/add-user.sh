#!/bin/sh
# Adds a user to Mosquitto's password file (infra/mosquitto/passwd), or changes its password.
#
#   infra/mosquitto/add-user.sh NAME [PASSWORD]    add NAME, or set its password
#   infra/mosquitto/add-user.sh -d NAME            remove NAME
#
# NAME is a vehicle id (the ACL lets it use locus/vehicles/NAME/ and nothing else), or one of the
# roles in infra/mosquitto/acl: locus-hub (the hub) and locus-events (event consumers). Without
# PASSWORD one is generated and printed. A running broker reads the file again on SIGHUP:
#   docker compose kill -s SIGHUP mosquitto
# Uses mosquitto_passwd when installed (Debian: mosquitto), else the eclipse-mosquitto:2 image.
# LOCUS_MOSQUITTO_PASSWD names another password file.
set -eu

dir=$(cd "$(dirname "$0")" && pwd)
file=${LOCUS_MOSQUITTO_PASSWD:-"$dir/passwd"}

usage() {
  echo "usage: $0 NAME [PASSWORD] | $0 -d NAME" >&2
  exit 2
}

delete=false
if [ "${1:-}" = "-d" ]; then
  delete=true
  shift
fi
[ $# -ge 1 ] && [ $# -le 2 ] || usage
name=$1
# The vehicle id rule of the wire protocol: it is also the user name, and it goes into topics.
if ! printf '%s' "$name" | grep -Eq '^[A-Za-z0-9_.-]{1,64}$'; then
  echo "$0: \"$name\" is not a vehicle id (1-64 of A-Z a-z 0-9 _ . -)" >&2
  exit 2
fi

# run_passwd FLAGS NAME [PASSWORD]: mosquitto_passwd FLAGS FILE NAME [PASSWORD]
run_passwd() {
  flags=$1
  shift
  if command -v mosquitto_passwd >/dev/null 2>&1; then
    # shellcheck disable=SC2086 # the flags are words on purpose
    mosquitto_passwd $flags "$file" "$@"
  else
    # The file's directory is mounted as /work; run as the caller so the file stays theirs.
    # shellcheck disable=SC2086
    docker run --rm --user "$(id -u):$(id -g)" -v "$(dirname "$file"):/work" \
      eclipse-mosquitto:2 mosquitto_passwd $flags "/work/$(basename "$file")" "$@"
  fi
}

if $delete; then
  [ -f "$file" ] || { echo "$0: no password file at $file" >&2; exit 1; }
  run_passwd -D "$name"
  echo "removed $name from $file"
  exit 0
fi

generated=false
if [ $# -eq 2 ]; then
  password=$2
else
  password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
  generated=true
fi

if [ -f "$file" ]; then
  run_passwd -b "$name" "$password"
else
  run_passwd "-c -b" "$name" "$password"
fi
# Mosquitto reads the file after it has dropped to its own user (uid 1883 in the image), so
# that user must be able to read it. It holds salted hashes, not passwords; see
# docs/production.md for a stricter setup on a shared host.
chmod 0644 "$file"

echo "added $name to $file"
if $generated; then echo "password: $password"; fi
