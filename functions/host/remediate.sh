#!/usr/bin/env bash
# Reflex host remediation (see functions/host/README.md): restart the PM2 app, or start it: from its ecosystem file
# when one is given, else from PM2's own saved list (`pm2 save` → dump.pm2), as PM2's boot-time `pm2 resurrect` does.
# Runs locally under bash and remotely under SSM Run Command (as root).
# Inputs are REFLEX_* environment variables, checked before anything runs; none is spliced into command text.
# Output: pm2's own lines, then one last line `result=ok action=…` or `result=failed action=… exit=<n>`.
set -euo pipefail
export LC_ALL=C

invalid() {
  echo "reflex: invalid $1" >&2
  exit 2
}

# The patterns of functions/core/validate.ts, in POSIX ERE. In a bracket expression `]` must come first.
re_app='^[A-Za-z0-9._-]{1,64}$'
re_path='^/[A-Za-z0-9._/-]{0,255}$'
re_user='^[a-z_][a-z0-9_-]{0,31}$'
re_url='^https?://[]A-Za-z0-9.:[_-]{1,255}(/[A-Za-z0-9._~/?&=%+-]{0,512})?$'
re_seconds='^(0|[1-9][0-9]?|[1-5][0-9]{2}|600)$'
re_pid='^[1-9][0-9]{0,9}$'

[[ "${REFLEX_APP:-}" =~ $re_app ]] || invalid REFLEX_APP
[[ "${REFLEX_ACTION:-}" =~ ^(restart|start)$ ]] || invalid REFLEX_ACTION
[[ -z "${REFLEX_PM2_HOME:-}" || "$REFLEX_PM2_HOME" =~ $re_path ]] || invalid REFLEX_PM2_HOME
[[ -z "${REFLEX_PM2_USER:-}" || "$REFLEX_PM2_USER" =~ $re_user ]] || invalid REFLEX_PM2_USER
[[ -z "${REFLEX_ECOSYSTEM:-}" || "$REFLEX_ECOSYSTEM" =~ $re_path ]] || invalid REFLEX_ECOSYSTEM
[[ -z "${REFLEX_HEALTH_URL:-}" || "$REFLEX_HEALTH_URL" =~ $re_url ]] || invalid REFLEX_HEALTH_URL
[[ -z "${REFLEX_VERIFY_SECONDS:-}" || "$REFLEX_VERIFY_SECONDS" =~ $re_seconds ]] || invalid REFLEX_VERIFY_SECONDS
[[ -z "${REFLEX_HUNG_PID:-}" || "$REFLEX_HUNG_PID" =~ $re_pid ]] || invalid REFLEX_HUNG_PID

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
  as_pm2_user=(runuser -u "$pm2_user" -- env PM2_HOME="$pm2_home")
else
  as_pm2_user=(env PM2_HOME="$pm2_home")
fi
pm2_cmd=("${as_pm2_user[@]}" pm2)

# SSM runs the script in a root-only directory. A pm2 that has to spawn its daemon from there, as another user,
# fails (`spawn node EACCES`): run it from the PM2 home, which its user owns.
cd "$pm2_home" 2>/dev/null || cd /

# The PM2 daemon answers: its pid file names a live, non-zombie process. (Any pm2 CLI call would spawn one.)
daemon_alive() {
  local pid state
  [[ -r "$pm2_home/pm2.pid" ]] || return 1
  pid="$(tr -dc '0-9' <"$pm2_home/pm2.pid")"
  [[ -n "$pid" ]] || return 1
  state="$(ps -o stat= -p "$pid" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z* ]]
}

# Whether PM2's saved list (dump.pm2) names the app.
saved() {
  [[ -r "$pm2_home/dump.pm2" ]] &&
    REFLEX_APP="$app" node -e '
      const list = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      process.exit(Array.isArray(list) && list.some((entry) => entry && entry.name === process.env.REFLEX_APP) ? 0 : 1);
    ' "$pm2_home/dump.pm2" 2>/dev/null
}

# Starts only the app's saved entry on a running daemon, the way `pm2 resurrect` restores each entry
# (PM2 7, lib/API/Startup.js: `Client.executeRemote("prepare", entry)`), and only when PM2 does not run it.
# `pm2 resurrect` itself would also bring back every other saved app that someone removed on purpose.
# shellcheck disable=SC2016 # a node program, nothing interpolated
start_saved='
const fs = require("fs");
const path = require("path");
const PM2 = require(process.env.REFLEX_PM2_PACKAGE);
const app = process.env.REFLEX_APP;
const entry = JSON.parse(fs.readFileSync(path.join(process.env.PM2_HOME, "dump.pm2"), "utf8")).find((e) => e && e.name === app);
if (!entry) {
  console.error("PM2 saved list does not name " + app);
  process.exit(3);
}
const pm2 = new PM2.custom({ pm2_home: process.env.PM2_HOME, independent: false, daemon_mode: true });
const fail = (message) => {
  console.error(message);
  pm2.disconnect();
  process.exit(1);
};
pm2.connect(true, (error) => {
  if (error) return fail("cannot reach the PM2 daemon: " + error.message);
  pm2.Client.executeRemote("getMonitorData", {}, (error, list) => {
    if (error) return fail("pm2 list failed: " + error.message);
    if (list.some((p) => p.name === app)) {
      console.log(app + " is already in PM2 list: not started twice");
      pm2.disconnect();
      return;
    }
    pm2.Client.executeRemote("prepare", entry, (error) => {
      if (error) return fail("pm2 could not start " + app + ": " + (error.message || error));
      console.log("started " + app + " from " + path.join(process.env.PM2_HOME, "dump.pm2"));
      pm2.disconnect();
    });
  });
});
'

# The pm2 package behind the pm2 on PATH (a global npm install: <prefix>/lib/node_modules/pm2/bin/pm2).
pm2_package() {
  local bin
  bin="$(command -v pm2)" || return 1
  bin="$(readlink -f "$bin")" || return 1
  dirname "$(dirname "$bin")"
}

run_action() {
  case "$action" in
    restart)
      timeout 120 "${pm2_cmd[@]}" restart "$app" --no-color --mini-list
      ;;
    start)
      if [[ -n "${REFLEX_ECOSYSTEM:-}" ]]; then
        timeout 120 "${pm2_cmd[@]}" start "$REFLEX_ECOSYSTEM" --only "$app" --no-color --mini-list
      elif ! saved; then
        echo "reflex: no ecosystem file is configured and PM2's saved list ($pm2_home/dump.pm2) does not name $app: run \`pm2 save\` once the app runs" >&2
        return 3
      elif ! daemon_alive; then
        # The daemon is gone: bring back what PM2 saved, as its own startup unit does at boot.
        timeout 120 "${pm2_cmd[@]}" resurrect --no-color --mini-list
      else
        local package
        package="$(pm2_package)" || { echo "reflex: pm2 is not on PATH" >&2; return 127; }
        timeout 120 "${as_pm2_user[@]}" REFLEX_APP="$app" REFLEX_PM2_PACKAGE="$package" node -e "$start_saved"
      fi
      ;;
  esac
}

# --no-color and the mini list keep the output short and readable in a report (SSM keeps 24,000 characters);
# stderr is folded into stdout so that a failure's last lines are in the result.
code=0
run_action 2>&1 | tail -n 40 || code=$?

if [[ "$code" -eq 0 ]]; then
  echo "result=ok action=$action"
else
  echo "result=failed action=$action exit=$code"
  exit 1
fi
