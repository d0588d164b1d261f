#!/usr/bin/env bash
# Installs the Debian packages the test suite drives as real peers, when missing.
# In CI (CI=true) a peer that cannot be installed is a failure, never a skip.
set -euo pipefail
# command -> Debian package
declare -A PEERS=(
  [kea-dhcp4]=kea-dhcp4-server [kea-dhcp6]=kea-dhcp6-server [/usr/lib/frr/bfdd]=frr
  [miniupnpd]=miniupnpd-nftables [mosquitto]=mosquitto [mosquitto_pub]=mosquitto-clients
  [protoc]=protobuf-compiler [snmpget]=snmp [snmpd]=snmpd [snmptrapd]=snmptrapd [smilint]=smitools
  [iperf3]=iperf3 [tcpdump]=tcpdump [tshark]=tshark [busybox]=busybox [chromium]=chromium
  [xmllint]=libxml2-utils [nft]=nftables [ip]=iproute2 [dnsmasq]=dnsmasq-base [conntrack]=conntrack [stress-ng]=stress-ng
  [systemd-analyze]=systemd [unshare]=util-linux [strace]=strace [/usr/sbin/tayga]=tayga [ping]=iputils-ping
  [miredo]=miredo [miredo-server]=miredo-server
)
missing=()
for cmd in "${!PEERS[@]}"; do
  if [[ "$cmd" == /* ]]; then [[ -x "$cmd" ]] || missing+=("${PEERS[$cmd]}")
  else command -v "$cmd" >/dev/null 2>&1 || missing+=("${PEERS[$cmd]}"); fi
done
if ((${#missing[@]})); then
  mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "ensure-peers: installing ${pkgs[*]}" >&2
  # Installed packages must not start their services: Debian's miredo would start with /etc/miredo/miredo.conf, which
  # names a public Teredo server (PEERS.md §8). A policy-rc.d that refuses every start (exit 101) keeps
  # invoke-rc.d and deb-systemd-invoke from starting anything; ours is removed afterwards, one already there is kept.
  own_policy=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && own_policy=1
  fi
  trap '[[ -n "$own_policy" ]] && rm -f /usr/sbin/policy-rc.d' EXIT
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null; }; then
    echo "ensure-peers: FAILED to install test peers: ${pkgs[*]}" >&2
    exit 1
  fi
fi
