#!/bin/sh
# The TLS certificate that the hub (HTTPS on 443) and Mosquitto (MQTT over TLS on 8883) share.
#
#   locus-tls.sh self-signed DIR HOST   a CA of this deployment (made once, kept) and a server
#                                       certificate for HOST (an IPv4 address or DNS name) signed
#                                       by it; a valid server certificate is kept as it is
#   locus-tls.sh acme DIR DOMAIN EMAIL  a Let's Encrypt certificate for DOMAIN through lego's
#                                       TLS-ALPN-01 challenge on port 443 (free at that moment)
#   locus-tls.sh due DIR HOST           exit 0 when DIR has no certificate for HOST valid for
#                                       30 more days (so the caller frees port 443 first)
#
# DIR receives ca.pem (self-signed only), fullchain.pem and privkey.pem. The keys are readable by
# root and the group locus-tls (the hub's and Mosquitto's users) when that group exists. Prints
# "changed" when it wrote a new server certificate, "kept" otherwise.
set -eu

die() {
  echo "locus-tls: $*" >&2
  exit 1
}

# A server certificate still valid for 30 days and made for HOST is kept.
still_good() {
  [ -s "$dir/fullchain.pem" ] && [ -s "$dir/privkey.pem" ] || return 1
  openssl x509 -in "$dir/fullchain.pem" -noout -checkend 2592000 >/dev/null 2>&1 || return 1
  openssl x509 -in "$dir/fullchain.pem" -noout -ext subjectAltName 2>/dev/null | grep -Eq "(DNS|IP Address):$1(,|\$)"
}

protect() {
  chmod 644 "$dir/fullchain.pem"
  chmod 640 "$dir/privkey.pem"
  if getent group locus-tls >/dev/null 2>&1; then chgrp locus-tls "$dir/privkey.pem"; fi
}

self_signed() {
  host=$1
  case $host in
    *[!0-9.]*) san="DNS:$host" ;;
    *) san="IP:$host" ;;
  esac
  umask 077
  if [ ! -s "$dir/ca.key" ] || [ ! -s "$dir/ca.pem" ]; then
    # Ten years: agents hold this CA as their trust anchor, so it outlives server certificates.
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -days 3650 -subj "/CN=Locus deployment CA" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null || die "openssl could not make the CA"
    chmod 644 "$dir/ca.pem"
  fi
  if still_good "$host"; then
    echo kept
    return
  fi
  work=$(mktemp -d)
  printf '%s\n' "subjectAltName=$san" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$work/ext"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=$host" -keyout "$work/privkey.pem" -out "$work/server.csr" 2>/dev/null ||
    { rm -rf "$work"; die "openssl could not make the server key"; }
  # 397 days: the longest validity clients accept for a server certificate.
  openssl x509 -req -in "$work/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -CAserial "$dir/ca.srl" -days 397 -extfile "$work/ext" \
    -out "$work/server.pem" 2>/dev/null || { rm -rf "$work"; die "openssl could not sign"; }
  cat "$work/server.pem" "$dir/ca.pem" >"$dir/fullchain.pem"
  mv "$work/privkey.pem" "$dir/privkey.pem"
  rm -rf "$work"
  protect
  echo changed
}

acme() {
  domain=$1
  email=$2
  if still_good "$domain" && ! [ -s "$dir/ca.pem" ]; then
    echo kept
    return
  fi
  command -v lego >/dev/null || die "lego is not installed (apt-get install lego)"
  state=/var/lib/locus/lego
  mkdir -p "$state"
  # lego's global flags come before its command; renew does nothing while 30 days remain.
  set -- --accept-tos --email "$email" --domains "$domain" --path "$state" --tls --tls.port :443
  if [ -s "$state/certificates/$domain.crt" ]; then set -- "$@" renew --days 30; else set -- "$@" run; fi
  lego "$@" >&2 ||
    die "Let's Encrypt refused $domain: does its DNS A record point to this instance's address?"
  if cmp -s "$state/certificates/$domain.crt" "$dir/fullchain.pem" && ! [ -s "$dir/ca.pem" ]; then
    echo kept
    return
  fi
  umask 077
  cp "$state/certificates/$domain.crt" "$dir/fullchain.pem"
  cp "$state/certificates/$domain.key" "$dir/privkey.pem"
  # A publicly trusted certificate now: the deployment CA no longer signs what is served.
  rm -f "$dir/ca.pem"
  protect
  echo changed
}

[ $# -ge 3 ] || die "usage: locus-tls.sh self-signed DIR HOST | acme DIR DOMAIN EMAIL | due DIR HOST"
mode=$1
dir=$2
shift 2
mkdir -p "$dir"
case $mode in
  self-signed) self_signed "$1" ;;
  acme)
    [ $# -ge 2 ] || die "acme needs DOMAIN and EMAIL"
    acme "$1" "$2"
    ;;
  due) if still_good "$1"; then exit 1; else exit 0; fi ;;
  *) die "unknown mode $mode (self-signed, acme or due)" ;;
esac
