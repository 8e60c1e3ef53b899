#!/usr/bin/env bash
# `npm run dev`: installs what is missing, builds, seeds a demo client and user
# into local KV, and serves the Worker on http://localhost:$PORT under wrangler dev.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8787}
STATE=.wrangler/state
DEMO=.wrangler/demo-credentials

eval "$(bash scripts/setup.sh)"
cargo build --quiet --bin admin

random() { node -e "process.stdout.write(require('crypto').randomBytes($1).toString('base64url'))"; }

bash scripts/dev-vars.sh

# The demo client and user, created once per local state.
if [ ! -f "$DEMO" ] || [ ! -d "$STATE" ]; then
  mkdir -p .wrangler
  secret=$(random 32)
  password=$(random 9)
  printf '%s' "$secret" | ./target/debug/admin --persist-to "$STATE" client add --force \
    --id demo-skill --name "Demo Alexa skill" --alexa DEMOVENDOR \
    --redirect-uri "http://localhost:$PORT/demo/callback" \
    --scope "smart_home profile" --secret-stdin >/dev/null
  printf '%s' "$password" | ./target/debug/admin --persist-to "$STATE" user add --force \
    --username demo --display-name "Demo User" --password-stdin >/dev/null
  printf 'CLIENT_SECRET=%s\nPASSWORD=%s\n' "$secret" "$password" > "$DEMO"
fi
# shellcheck disable=SC1090
. "$DEMO"

base="http://localhost:$PORT"
cat <<INFO

  Alexa OAuth server, local: $base   (state in $STATE)

  Demo client  client_id=demo-skill  client_secret=$CLIENT_SECRET
  Demo user    username=demo         password=$PASSWORD

  Link in a browser:
    $base/authorize?response_type=code&client_id=demo-skill&state=try-me&scope=smart_home&redirect_uri=http%3A%2F%2Flocalhost%3A$PORT%2Fdemo%2Fcallback

  Then exchange the code it shows, as Alexa would:
    curl -s -u demo-skill:$CLIENT_SECRET $base/token \\
      -d grant_type=authorization_code -d code=CODE \\
      --data-urlencode redirect_uri=$base/demo/callback

INFO
exec node_modules/.bin/wrangler dev --port "$PORT" --persist-to "$STATE" --ip 127.0.0.1
