#!/usr/bin/env bash
# Re-vendor front-end assets from the npm registry into app/static/vendor/.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent htmx.org@2.0.11 swagger-ui-dist@5.35.0 >/dev/null)
for f in "$tmp"/*.tgz; do mkdir -p "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
cp "$tmp"/htmx.org-*/package/dist/htmx.min.js app/static/vendor/htmx/
cp "$tmp"/swagger-ui-dist-*/package/{swagger-ui-bundle.js,swagger-ui.css,LICENSE} app/static/vendor/swagger-ui/
echo "vendored: see app/static/vendor/VERSIONS.md"
