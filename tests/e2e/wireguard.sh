#!/usr/bin/env bash
# WireGuard between two cluster nodes, each in its own network namespace joined by a veth pair (no other
# link): `smsgate cluster wg-config` writes both nodes' files, the tunnels come up with wireguard-go (the
# userspace implementation: no kernel module needed, only /dev/net/tun) and `wg setconf` + `ip` from the
# generated files' values. Then, in namespace B, listening on B's VPN address only: a TLS listener
# (certificate from `smsgate cluster issue-cert --server`), reached from A with verify-full through the
# tunnel and not without it; and a real PostgreSQL server (TLS, client certificates, pg_hba `cert`) that
# `smsgate cluster status` in A connects to through the tunnel (creating the schema on the way).
# Needs root (namespaces), wireguard-go, wireguard-tools, openssl, iproute2, postgresql: fails, never
# skips, without them.
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() { echo "wireguard e2e: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "must run as root (creates network namespaces)"
for c in ip wireguard-go wg openssl timeout; do
  command -v "$c" >/dev/null || fail "$c missing (packages iproute2 wireguard-go wireguard-tools openssl; tests/run-all.sh installs them)"
done
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$pgbin" ] && [ -x "$pgbin/initdb" ] || fail "PostgreSQL server missing (package postgresql; tests/run-all.sh installs it)"
id postgres >/dev/null 2>&1 || fail "user postgres missing (package postgresql creates it)"
[ -c /dev/net/tun ] || fail "/dev/net/tun missing: wireguard-go needs a TUN device"

bin="${SMSGATE_BIN:-}"
if [ -z "$bin" ]; then cargo build --quiet --bin smsgate; bin="$PWD/target/debug/smsgate"; fi

tmp=$(mktemp -d)
chmod 755 "$tmp" # the PostgreSQL server (user postgres) keeps its files in here
id=$$
nsa="smsgate-wg-a-$id"; nsb="smsgate-wg-b-$id"
pids=()
cleanup() {
  [ -d "$tmp/pgdata" ] && runuser -u postgres -- "$pgbin/pg_ctl" -D "$tmp/pgdata" -m immediate -w stop >/dev/null 2>&1
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns del "$nsa" 2>/dev/null || true
  ip netns del "$nsb" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# Two sites: a veth pair is the only link between them ("the internet").
ip netns add "$nsa"; ip netns add "$nsb"
ip link add "vea$id" netns "$nsa" type veth peer name "veb$id" netns "$nsb"
ip -n "$nsa" addr add 192.168.77.1/24 dev "vea$id"; ip -n "$nsb" addr add 192.168.77.2/24 dev "veb$id"
for ns in "$nsa" "$nsb"; do ip -n "$ns" link set lo up; done
ip -n "$nsa" link set "vea$id" up; ip -n "$nsb" link set "veb$id" up

"$bin" cluster --data-dir "$tmp/home" wg-config --node a=192.168.77.1 --node b=192.168.77.2:51821 \
  --out "$tmp/wg" >/dev/null
for n in a b; do [ -s "$tmp/wg/$n.conf" ] || fail "wg-config wrote no $n.conf"; done

# wg-quick's job done by hand: `wg setconf` takes the file without wg-quick's own keys (Address, DNS…),
# the address goes on with `ip`, and the subnet route comes with the address.
up() { # namespace node
  # wireguard-go's control socket (/var/run/wireguard/<if>.sock) is shared by all namespaces: unique names.
  local ns=$1 node=$2 conf="$tmp/wg/$2.conf" addr if="wg$2$id"
  addr=$(sed -n 's/^Address = //p' "$conf")
  [ -n "$addr" ] || fail "$node.conf has no Address"
  grep -Ev '^(Address|DNS|MTU|Table|PreUp|PostUp|PreDown|PostDown|SaveConfig) *=' "$conf" > "$tmp/$node.wg"
  WG_PROCESS_FOREGROUND=1 ip netns exec "$ns" wireguard-go "$if" > "$tmp/wireguard-go-$node.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do ip -n "$ns" link show "$if" >/dev/null 2>&1 && break; sleep 0.1; done
  ip -n "$ns" link show "$if" >/dev/null 2>&1 || fail "wireguard-go made no $if in $node: $(cat "$tmp/wireguard-go-$node.log")"
  ip netns exec "$ns" wg setconf "$if" "$tmp/$node.wg" || fail "wg setconf rejected $node.conf"
  ip -n "$ns" addr add "$addr" dev "$if"
  ip -n "$ns" link set "$if" up
}

# The database stand-in: TLS on B's VPN address only, with a server certificate of the appliance CA.
"$bin" cluster --data-dir "$tmp/home" issue-cert db --server --san 10.77.0.2 --out "$tmp/db" >/dev/null
ip netns exec "$nsb" sh -c 'ip addr show lo >/dev/null' # namespace usable
probe() { # → 0 when A completes a verify-full TLS handshake with B's listener at $1
  echo ping | ip netns exec "$nsa" timeout 5 openssl s_client -connect "$1:8443" -CAfile "$tmp/db-ca.pem" \
    -verify_return_error -verify_ip 10.77.0.2 -quiet -no_ign_eof >/dev/null 2>&1
}

# Before the tunnel: B's VPN address does not even exist, A cannot reach it.
up_server() {
  ip netns exec "$nsb" openssl s_server -accept 10.77.0.2:8443 -cert "$tmp/db.pem" -key "$tmp/db.key" \
    -quiet -naccept 1000 > "$tmp/s_server.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do ip netns exec "$nsb" sh -c 'ss -ltn | grep -q "10.77.0.2:8443"' && return 0; sleep 0.1; done
  fail "TLS listener in B did not start: $(cat "$tmp/s_server.log")"
}
probe 10.77.0.2 && fail "A reached 10.77.0.2 before any tunnel existed"

up "$nsa" a; up "$nsb" b
up_server
probe 10.77.0.2 || fail "A could not reach B's TLS listener through the tunnel; wg: $(ip netns exec "$nsa" wg show)"
# The listener is not on the site link: only the VPN address answers.
probe 192.168.77.2 && fail "B's listener answered on the veth address: the proof would not need the tunnel"
# The handshake really happened (A got B's packets over WireGuard) and traffic was encrypted on the veth.
ip netns exec "$nsa" wg show "wga$id" latest-handshakes | awk '{ if ($2 == 0) exit 1 }' \
  || fail "no WireGuard handshake recorded in A"
rx=$(ip netns exec "$nsa" wg show "wga$id" transfer | awk '{ print $2 }')
[ "${rx:-0}" -gt 0 ] || fail "A received nothing over WireGuard"

# Tunnel down in A: the same probe fails (no other path to 10.77.0.2).
ip -n "$nsa" link set "wga$id" down
probe 10.77.0.2 && fail "A reached 10.77.0.2 with its tunnel down"
ip -n "$nsa" link set "wga$id" up

# PostgreSQL in B, on the VPN address only, TLS with the appliance CA and client certificates only.
pg="$tmp/pg"; mkdir -p "$pg/run"
cp "$tmp/db.pem" "$tmp/db.key" "$tmp/db-ca.pem" "$pg/"
chmod 600 "$pg/db.key"; mkdir -m 700 "$tmp/pgdata"; chown -R postgres: "$pg" "$tmp/pgdata"
runuser -u postgres -- "$pgbin/initdb" -D "$tmp/pgdata" -U smsgate --auth-local=trust --auth-host=reject \
  --no-sync >/dev/null || fail "initdb failed"
cat >> "$tmp/pgdata/postgresql.conf" <<CONF
listen_addresses = '10.77.0.2'
port = 5432
unix_socket_directories = '$pg/run'
ssl = on
ssl_cert_file = '$pg/db.pem'
ssl_key_file = '$pg/db.key'
ssl_ca_file = '$pg/db-ca.pem'
fsync = off
CONF
printf 'local all all trust\nhostssl all smsgate 10.77.0.0/24 cert map=nodes\n' > "$tmp/pgdata/pg_hba.conf"
printf 'nodes /^(.*)$ smsgate\n' > "$tmp/pgdata/pg_ident.conf"
chown -R postgres: "$tmp/pgdata"
ip netns exec "$nsb" runuser -u postgres -- "$pgbin/pg_ctl" -D "$tmp/pgdata" -l "$pg/run/log" -w start >/dev/null \
  || fail "PostgreSQL did not start in B: $(cat "$pg/run/log")"
ip netns exec "$nsb" runuser -u postgres -- "$pgbin/psql" -h "$pg/run" -U smsgate -d postgres -qc "CREATE DATABASE smsgate" \
  || fail "CREATE DATABASE failed"

# Node a in A: its client certificate and a cluster config naming B's VPN address.
"$bin" cluster --data-dir "$tmp/home" issue-cert a --out "$tmp/a" >/dev/null
cat > "$tmp/a.toml" <<CONF
version = 1
data_dir = "$tmp/node-a"
[cluster]
enabled = true
node_id = "a"
site = "site-a"
postgres_url = "postgresql://smsgate@10.77.0.2:5432/smsgate"
ca = "$tmp/a-ca.pem"
cert = "$tmp/a.pem"
key = "$tmp/a.key"
CONF
status=$(ip netns exec "$nsa" timeout 60 "$bin" cluster --config "$tmp/a.toml" status --json) \
  || fail "smsgate in A could not reach PostgreSQL in B through the tunnel"
echo "$status" | python3 -c 'import json,sys; s=json.load(sys.stdin); assert s["schema_version"] >= 1, s' \
  || fail "unexpected cluster status: $status"
# The server saw the node come from A's VPN address, not the veth.
seen=$(ip netns exec "$nsb" runuser -u postgres -- "$pgbin/psql" -h "$pg/run" -U smsgate -d smsgate -Atc \
  "SELECT count(*) FROM smsgate_schema")
[ "${seen:-0}" -ge 1 ] || fail "the schema was not created through the tunnel"
# And not without the tunnel.
ip -n "$nsa" link set "wga$id" down
ip netns exec "$nsa" timeout 30 "$bin" cluster --config "$tmp/a.toml" status --json >/dev/null 2>&1 \
  && fail "smsgate in A reached PostgreSQL with the tunnel down"
echo "wireguard e2e: ok (PostgreSQL over TLS from namespace A to B through WireGuard; handshake, verify-full TLS to 10.77.0.2 only through the tunnel, $rx bytes received)"
