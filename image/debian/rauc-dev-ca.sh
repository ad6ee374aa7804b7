#!/usr/bin/env bash
# Makes a development signing key for RAUC bundles: DIR/key.pem + DIR/cert.pem (self-signed, also
# the keyring the image trusts). For production, sign with your own PKI and put its CA into the image
# as /etc/rauc/keyring.pem instead.
set -euo pipefail
dir=${1:?usage: rauc-dev-ca.sh DIR}
mkdir -p "$dir"
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
	-subj "/O=smsgate development/CN=smsgate RAUC development signing key" \
	-keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
chmod 0644 "$dir/cert.pem"
echo "rauc-dev-ca: development key in $dir (do not ship it)"
