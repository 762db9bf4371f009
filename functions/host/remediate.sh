#!/usr/bin/env bash
# Reflex host remediation (see functions/host/README.md): restart the PM2 app, or start it from its ecosystem file.
# Runs locally under bash and remotely under SSM Run Command (as root).
# Inputs are REFLEX_* environment variables, checked before anything runs; none is spliced into command text.
# Output: pm2's own lines, then one last line `result=ok action=…` or `result=failed action=… exit=<n>`.
set -euo pipefail
export LC_ALL=C

invalid() {
  echo "reflex: invalid $1" >&2
  exit 2
}

# The patterns of functions/core/validate.ts, in POSIX ERE.
re_app='^[A-Za-z0-9._-]{1,64}$'
re_path='^/[A-Za-z0-9._/-]{0,255}$'
re_user='^[a-z_][a-z0-9_-]{0,31}$'

[[ "${REFLEX_APP:-}" =~ $re_app ]] || invalid REFLEX_APP
[[ "${REFLEX_ACTION:-}" =~ ^(restart|start)$ ]] || invalid REFLEX_ACTION
[[ -z "${REFLEX_PM2_HOME:-}" || "$REFLEX_PM2_HOME" =~ $re_path ]] || invalid REFLEX_PM2_HOME
[[ -z "${REFLEX_PM2_USER:-}" || "$REFLEX_PM2_USER" =~ $re_user ]] || invalid REFLEX_PM2_USER
if [[ "$REFLEX_ACTION" == start ]]; then
  # start needs the ecosystem file: that is where the app's script, cwd and environment are.
  [[ "${REFLEX_ECOSYSTEM:-}" =~ $re_path ]] || invalid REFLEX_ECOSYSTEM
else
  [[ -z "${REFLEX_ECOSYSTEM:-}" || "$REFLEX_ECOSYSTEM" =~ $re_path ]] || invalid REFLEX_ECOSYSTEM
fi

app="$REFLEX_APP"
action="$REFLEX_ACTION"
pm2_user="${REFLEX_PM2_USER:-}"

if [[ -n "${REFLEX_PM2_HOME:-}" ]]; then
  pm2_home="$REFLEX_PM2_HOME"
elif [[ -n "$pm2_user" ]]; then
  user_home="$(getent passwd "$pm2_user" | cut -d: -f6)" || invalid REFLEX_PM2_USER
  [[ -n "$user_home" ]] || invalid REFLEX_PM2_USER
  pm2_home="$user_home/.pm2"
else
  pm2_home="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}/.pm2"
fi

# pm2 as the PM2 user (SSM runs as root; PM2 lives under the app user's home), else as the current user.
if [[ -n "$pm2_user" ]]; then
  pm2_cmd=(runuser -u "$pm2_user" -- env PM2_HOME="$pm2_home" pm2)
else
  pm2_cmd=(env PM2_HOME="$pm2_home" pm2)
fi

# --no-color and the mini list keep the output short and readable in a report (SSM keeps 24,000 characters).
code=0
case "$action" in
  restart) timeout 120 "${pm2_cmd[@]}" restart "$app" --no-color --mini-list 2>&1 | tail -n 40 || code=$? ;;
  start) timeout 120 "${pm2_cmd[@]}" start "$REFLEX_ECOSYSTEM" --only "$app" --no-color --mini-list 2>&1 | tail -n 40 || code=$? ;;
esac

if [[ "$code" -eq 0 ]]; then
  echo "result=ok action=$action"
else
  echo "result=failed action=$action exit=$code"
  exit 1
fi
