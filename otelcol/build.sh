#!/usr/bin/env bash
# Build our collector distribution with the OpenTelemetry Collector Builder (ocb).
# Reuses the previous binary when the manifest, the lock files, this script and the sources of our
# own receiver module (otaprecv/) are unchanged.
#   otelcol/build.sh            -> otelcol/build/otelcol-telemetry
#   otelcol/build.sh --relock   -> re-resolve modules (go mod tidy) and rewrite lock/go.{mod,sum}
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
OCB_VERSION="v0.152.0"   # must match dist.version and every gomod in builder-config.yaml
binary="build/otelcol-telemetry"
stamp_file=".build-stamp"

# The Go module proxy reachable here does not serve checksum-database lookups for every module we
# use, so the sumdb is off; lock/go.sum (committed) still pins every module's hash.
export GOPROXY="${GOPROXY:-https://proxy.golang.org}"
export GOSUMDB=off
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

relock=0
[ "${1:-}" = "--relock" ] && relock=1

# otaprecv/ is our own receiver module (replace => ../otaprecv), so its sources are part of the stamp.
stamp="$(cat builder-config.yaml lock/go.mod lock/go.sum build.sh otaprecv/*.go otaprecv/go.mod otaprecv/go.sum 2>/dev/null | sha256sum | cut -d' ' -f1)"
if [ "$relock" = 0 ] && [ -x "$binary" ] && [ "$(cat "$stamp_file" 2>/dev/null)" = "$stamp" ]; then
  echo "otelcol: $binary is up to date"
  exit 0
fi

gobin="$(go env GOPATH)/bin"
ocb="$gobin/builder"
# Not `ocb version | grep -q`: under pipefail grep's early exit fails the pipe, so ocb was
# reinstalled on every run.
ocb_version="$("$ocb" version 2>&1 || true)"
if [[ "$ocb_version" != *"${OCB_VERSION#v}"* ]]; then
  echo "otelcol: installing ocb $OCB_VERSION"
  go install "go.opentelemetry.io/collector/cmd/builder@${OCB_VERSION}"
fi

started=$(date +%s)
# ocb's own 'go mod tidy' also resolves test-only modules of our dependencies, some of which the
# proxy does not serve; generate sources only and resolve/build ourselves.
"$ocb" --config builder-config.yaml --skip-get-modules --skip-compilation >/dev/null
if [ "$relock" = 1 ] || [ ! -f lock/go.sum ]; then
  (cd build && go mod tidy -e -compat=1.25 >/dev/null 2>&1 || true)
  cp build/go.mod lock/go.mod
  cp build/go.sum lock/go.sum
else
  cp lock/go.mod build/go.mod
  cp lock/go.sum build/go.sum
fi
(cd build && go build -trimpath -ldflags="-s -w" -o otelcol-telemetry .)
echo "$stamp" > "$stamp_file"
echo "otelcol: built $binary in $(( $(date +%s) - started ))s"
