#!/bin/sh
# The whole test suite: what `make test` and CI run.
set -eu
cd "$(dirname "$0")/.."

# Tools some tests drive besides the kubectl binaries: skopeo (the OCI registry endpoint) and
# Chromium (the browser test). Installed from Debian when missing and we are allowed to.
missing=""
command -v skopeo >/dev/null 2>&1 || missing="$missing skopeo"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing$missing"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null) ||
      echo "test.sh: could not install$missing; the tests that need them will say so" >&2
  else
    echo "test.sh: missing$missing (not root or no apt-get); the tests that need them will say so" >&2
  fi
fi

LDFLAGS=$(scripts/ldflags.sh)
go vet ./...
go test -ldflags "$LDFLAGS" -timeout 60m ./...
