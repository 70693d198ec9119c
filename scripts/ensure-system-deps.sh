#!/usr/bin/env bash
# Installs the Debian packages the lab and the tests use (etcd-server, etcdctl, prometheus, chromium) when they
# are missing. As root with apt-get it installs them; otherwise it prints the exact command and fails.
# Usage: scripts/ensure-system-deps.sh [etcd] [prometheus] [chromium]   (default: etcd and prometheus)
set -euo pipefail
want=("$@"); [ ${#want[@]} -gt 0 ] || want=(etcd prometheus)
pkgs=()
for w in "${want[@]}"; do
  case "$w" in
    etcd) command -v etcd >/dev/null || [ -n "${ETCD_BIN:-}" ] || pkgs+=(etcd-server)
          command -v etcdctl >/dev/null || pkgs+=(etcd-client) ;;
    prometheus) command -v prometheus >/dev/null || pkgs+=(prometheus) ;;
    # the report page and the web page are tested in a real browser
    chromium) command -v chromium >/dev/null || [ -n "${CHROMIUM_BIN:-}" ] || pkgs+=(chromium) ;;
    *) echo "ensure-system-deps: unknown component '$w' (expected etcd, prometheus or chromium)" >&2; exit 2 ;;
  esac
done
[ ${#pkgs[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${pkgs[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
  # Debian starts a system prometheus service on :9090 after install where a service manager runs;
  # the project never relies on it.
else
  echo "missing ${pkgs[*]}; install with: sudo apt-get update && sudo apt-get install -y ${pkgs[*]}" >&2
  exit 1
fi
