#!/usr/bin/env bash
# Re-vendor GraphiQL's files into static/ (gzipped, served as they are by api/ide):
# the versions are pinned in package.json; run after changing them, commit static/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$work/"
npm install --prefix "$work" --no-audit --no-fund --loglevel=error
m="$work/node_modules"
v() { node -p "require('$m/$1/package.json').version"; }
z() { gzip -9 -n -c "$m/$1" > "$here/static/$2"; }
rm -f "$here"/static/*.gz
z graphiql/graphiql.min.js "graphiql-$(v graphiql).min.js.gz"
z graphiql/graphiql.min.css "graphiql-$(v graphiql).min.css.gz"
z react/umd/react.production.min.js "react-$(v react).production.min.js.gz"
z react-dom/umd/react-dom.production.min.js "react-dom-$(v react-dom).production.min.js.gz"
z @graphiql/plugin-explorer/dist/index.umd.js "plugin-explorer-$(v @graphiql/plugin-explorer).umd.js.gz"
z @graphiql/plugin-explorer/dist/style.css "plugin-explorer-$(v @graphiql/plugin-explorer).css.gz"
for p in graphiql react react-dom @graphiql/plugin-explorer; do
  echo "=== $p $(v "$p")"; cat "$m/$p"/LICENSE*; echo
done > "$here/static/LICENSES.txt"
ls -la "$here/static"
