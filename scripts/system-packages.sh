#!/usr/bin/env bash
# Installs the Debian packages some tests need beyond Python: chromium and chromium-driver (its
# matching WebDriver) for the web explorer's browser tests, prometheus for promtool (the metrics
# lint), fonts-liberation so pages render readable text. Quick when all are present; without apt
# or root it says why and changes nothing (those tests then skip, except under CI=true).
set -euo pipefail
PACKAGES=(chromium chromium-driver prometheus fonts-liberation)

missing=()
for package in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "== system packages: ${PACKAGES[*]} present"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "== system packages: no apt-get here, not installing ${missing[*]}; the browser and promtool tests will skip"
  exit 0
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo)
  else
    echo "== system packages: not root (and no password-less sudo), not installing ${missing[*]}; the browser and promtool tests will skip"
    exit 0
  fi
fi

echo "== system packages: installing ${missing[*]}"
# Only promtool is wanted from prometheus: keep its server (and any other service) from being
# started by the install, as container images do, unless the machine already has a policy.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 755 "$policy"
  trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
apt=("${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 -y -qq)
"${apt[@]}" update
"${apt[@]}" install --no-install-recommends "${missing[@]}"
