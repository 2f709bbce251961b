#!/bin/sh
# Builds the browser page into web/static/, which the kubesim binary embeds: installs the npm
# packages pinned by web/package-lock.json and copies the page's sources and the packages'
# browser modules (ES modules, no bundler needed).
set -eu
cd "$(dirname "$0")/../web"
if ! command -v npm >/dev/null 2>&1; then
  echo "build-web.sh: npm is needed to build the browser page (apt-get install npm)" >&2
  exit 1
fi
if [ ! -d node_modules/@xterm/xterm ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
find static -mindepth 1 ! -name README.md -exec rm -rf {} +
mkdir -p static/vendor
cp src/index.html src/app.js src/app.css static/
cp node_modules/@xterm/xterm/lib/xterm.mjs static/vendor/xterm.mjs
cp node_modules/@xterm/xterm/css/xterm.css static/vendor/xterm.css
cp node_modules/@xterm/addon-fit/lib/addon-fit.mjs static/vendor/addon-fit.mjs
cp node_modules/marked/lib/marked.esm.js static/vendor/marked.esm.js
echo "build-web.sh: built web/static"
