#!/bin/bash
# A stand-in for the two AWS CLI calls the instance makes, for a test root where AWS does not
# exist: `aws secretsmanager get-secret-value --secret-id ID --query SecretString --output text`
# prints FAKE_AWS_DIR/secrets/<ID with every character outside [A-Za-z0-9] as _>, and
# `aws ssm put-parameter --name NAME --value VALUE` (VALUE may be file://PATH, as the CLI reads it)
# writes FAKE_AWS_DIR/parameters/<NAME, the same way>. Anything else fails loudly.
set -euo pipefail
dir=${FAKE_AWS_DIR:-/opt/locus-test/aws}
key() { printf '%s' "$1" | tr -c 'A-Za-z0-9' _; }
die() { echo "fake aws: $*" >&2; exit 254; }
[ $# -ge 2 ] || die "no service and command in: aws $*"
service=$1 command=$2
shift 2
declare -A opt=()
while [ $# -gt 0 ]; do
  case $1 in
    --overwrite) opt[overwrite]=1; shift ;;
    --*) [ $# -ge 2 ] || die "$1 has no value"; opt[${1#--}]=$2; shift 2 ;;
    *) die "unexpected argument $1" ;;
  esac
done
case "$service $command" in
  "secretsmanager get-secret-value")
    [ "${opt[query]:-}" = SecretString ] && [ "${opt[output]:-}" = text ] ||
      die "only --query SecretString --output text is answered"
    file="$dir/secrets/$(key "${opt[secret-id]:?--secret-id}")"
    [ -f "$file" ] || die "ResourceNotFoundException: no secret ${opt[secret-id]}"
    cat "$file"
    echo
    ;;
  "ssm put-parameter")
    name=${opt[name]:?--name} value=${opt[value]:?--value}
    mkdir -p "$dir/parameters"
    case $value in
      file://*) cp "${value#file://}" "$dir/parameters/$(key "$name")" ;;
      *) printf '%s' "$value" >"$dir/parameters/$(key "$name")" ;;
    esac
    echo '{"Version": 1, "Tier": "Standard"}'
    ;;
  *) die "aws $service $command is not faked here" ;;
esac
