#!/usr/bin/env bash
# Reflex host remediation (see functions/host/README.md): restart the PM2 app, or start it: from its ecosystem file
# when one is given, else from PM2's own saved list (`pm2 save` → dump.pm2), as PM2's boot-time `pm2 resurrect` does.
# A restart of a proven-hung pid kills it as soon as PM2 is stopping it, instead of waiting out PM2's kill_timeout.
# With REFLEX_VERIFY_SECONDS and REFLEX_HEALTH_URL it then verifies on the host: PM2's record and a probe through
# nginx every 250 ms, until the app is served again, dies, or the time is up (one SSM round trip for both).
# Runs locally under bash and remotely under SSM Run Command (as root).
# Inputs are REFLEX_* environment variables, checked before anything runs; none is spliced into command text.
# Output: pm2's own lines, the `@@verify` section when verifying, then one last line
# `result=ok action=…[ verify=<verdict>]` or `result=failed action=… exit=<n>`.
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
health_url="${REFLEX_HEALTH_URL:-}"
verify_seconds="${REFLEX_VERIFY_SECONDS:-0}"
# Only a restart kills a hung pid.
hung_pid=""
[[ "$action" == restart ]] && hung_pid="${REFLEX_HUNG_PID:-}"

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

# The restart of a proven-hung app, and the verification after any action: one node program run as the PM2 user,
# on the pm2 package behind the pm2 on PATH. REFLEX_MODE=restart restarts as `pm2 restart <app>` does (the same API
# call, the options its CLI passes); with REFLEX_HUNG_PID it SIGKILLs that pid once PM2 is stopping it, and only if
# PM2 runs it as the app. Then, with REFLEX_VERIFY_SECONDS and REFLEX_HEALTH_URL, it verifies. It never spawns a
# PM2 daemon: it connects to the daemon's socket only while the daemon's pid is alive.
# Action lines go to stderr; stdout carries the `@@verify` section, then `verify=<verdict>` for this script.
# shellcheck disable=SC2016 # a node program, nothing interpolated
pm2_program='
"use strict";
const fs = require("fs");
const path = require("path");
const http = require("http");
const https = require("https");

const env = process.env;
const app = env.REFLEX_APP;
const home = env.PM2_HOME;
const mode = env.REFLEX_MODE;
const hungPid = Number(env.REFLEX_HUNG_PID || 0);
const verifyMs = Number(env.REFLEX_VERIFY_SECONDS || 0) * 1000;
const healthUrl = env.REFLEX_HEALTH_URL || "";
/** When the action began: PM2 starting the app after it counts as having seen it online. */
let actionStartedMs = Number(env.REFLEX_ACTION_STARTED_MS || 0) || Date.now();
const RESTART_MS = 120000;
/** Characters of observation lines at most (SSM keeps 24,000 of stdout; pm2 lines and the result come too). */
const VERIFY_BUDGET = 11000;

const PM2 = require(env.REFLEX_PM2_PACKAGE);
const pm2 = new PM2.custom({ pm2_home: home, independent: false, daemon_mode: true });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** Action messages go to stderr (with pm2 lines); stdout carries only the @@verify section and the verdict. */
const say = (line) => process.stderr.write(String(line).slice(0, 300) + "\n");
const fail = (line) => {
  say(line);
  process.exit(1);
};

/** The daemon answers: its pid file names a live, non-zombie process. (Connecting would not spawn one; pm2 calls would.) */
function daemonAlive() {
  let pid;
  try {
    pid = Number(fs.readFileSync(path.join(home, "pm2.pid"), "utf8").replace(/[^0-9]/g, ""));
  } catch (error) {
    return false;
  }
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if (error.code !== "EPERM") return false;
  }
  const stat = procStat(pid);
  return !stat || stat.state !== "Z";
}

/** State and start time (clock ticks since boot) of a process from /proc/<pid>/stat; undefined when unreadable. */
function procStat(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0], startTime: fields[19] };
  } catch (error) {
    return undefined;
  }
}

/** The RPC connection to the daemon, opened once and only when its pid is alive: never through pm2 calls that spawn one. */
let rpcUp = false;
let rpcOpening;
function ensureRpc(ms) {
  if (rpcUp) return Promise.resolve(true);
  if (!rpcOpening) {
    rpcOpening = new Promise((resolve) => {
      pm2.Client.launchRPC((error) => {
        rpcUp = !error;
        resolve(!error);
      });
    });
  }
  return Promise.race([rpcOpening, sleep(ms).then(() => false)]);
}

/** One RPC call with a deadline: a daemon that died meanwhile never answers. */
function call(method, arg, ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ error: new Error(`no answer from the PM2 daemon within ${ms} ms`) }), ms);
    pm2.Client.client.call(method, arg, (error, result) => {
      clearTimeout(timer);
      resolve({ error, result });
    });
  });
}

/** The PM2 entries of the app, or undefined when the daemon cannot be reached. */
async function appEntries(ms) {
  if (!daemonAlive() || !(await ensureRpc(ms))) return undefined;
  const { error, result } = await call("getMonitorData", {}, ms);
  if (error || !Array.isArray(result)) return undefined;
  return result.filter((p) => p && p.name === app);
}

async function restartApp() {
  if (!daemonAlive()) fail(`the PM2 daemon is not running (${path.join(home, "pm2.pid")}): nothing to restart; start brings it back`);
  const listed = await appEntries(10000);
  if (!listed) fail("cannot reach the PM2 daemon");
  let target;
  if (hungPid > 0) {
    target = listed.find((p) => p.pid === hungPid);
    if (target) {
      target = { pmId: target.pm_id, stat: procStat(hungPid) };
    } else {
      const seen = listed.map((p) => `pid ${p.pid} ${p.pm2_env && p.pm2_env.status}`).join(", ") || "not listed";
      say(`hung pid ${hungPid} is not what PM2 runs as ${app} (${seen}): plain restart, nothing killed`);
    }
  }
  actionStartedMs = Date.now();
  let answer;
  // What `pm2 restart <name>` does (lib/API.js restart → _operate("restartProcessId")), with the options its CLI passes.
  const restarted = new Promise((resolve) => pm2.restart(app, { filterEnv: [] }, (error, ret) => resolve({ error, ret })));
  restarted.then((result) => (answer = result));
  if (target) await killOnceStopping(target, () => answer !== undefined);
  const { error, ret } = await Promise.race([restarted, sleep(RESTART_MS).then(() => ({ error: new Error(`no answer within ${RESTART_MS / 1000} s`) }))]);
  if (error) fail(`pm2 restart ${app} failed: ${error.message || error}`);
  const states = (ret || []).map((p) => `[${p.name}](${p.pm_id}) ${p.status}`).join(", ");
  say(`restarted ${app}: ${states}`);
}

/**
 * PM2 stops the app with SIGINT, which a blocked event loop never handles, and waits kill_timeout before SIGKILL.
 * Once PM2 says `stopping` (so its exit handler will not autorestart), SIGKILL the proven-hung pid: the next check of PM2
 * (every kill_retry_time, 100 ms) sees it dead and starts the app.
 */
async function killOnceStopping(target, restartAnswered) {
  const until = Date.now() + RESTART_MS;
  while (!restartAnswered() && Date.now() < until) {
    const { result } = await call("getMonitorData", {}, 1000);
    const entry = Array.isArray(result) ? result.find((p) => p && p.pm_id === target.pmId) : undefined;
    const status = entry && entry.pm2_env && entry.pm2_env.status;
    if (entry && entry.pid !== hungPid) {
      say(`hung pid ${hungPid} ended on the signal PM2 sent (now pid ${entry.pid}, ${status}): nothing killed`);
      return;
    }
    if (status === "stopping") {
      const now = procStat(hungPid);
      if (target.stat && (!now || now.startTime !== target.stat.startTime)) {
        say(`hung pid ${hungPid} is gone: nothing killed`);
        return;
      }
      try {
        process.kill(hungPid, "SIGKILL");
        say(`killed hung pid ${hungPid} while PM2 stopped it: kill_timeout not waited out`);
      } catch (error) {
        say(`could not kill hung pid ${hungPid} (${error.code}): PM2 waits out its kill_timeout`);
      }
      return;
    }
    await sleep(20);
  }
}

/** One HTTP GET through nginx: status and time, or status 0 and why. */
function probe(url, ms) {
  return new Promise((resolve) => {
    const started = Date.now();
    let settled = false;
    let request;
    const finish = (status, error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      const result = { status, ms: Date.now() - started };
      if (error) result.error = error;
      resolve(result);
    };
    const timer = setTimeout(() => finish(0, "timeout"), ms);
    const lib = url.startsWith("https:") ? https : http;
    request = lib.get(url, { agent: false, headers: { "user-agent": "reflex-verify" } }, (response) => {
      response.resume();
      finish(response.statusCode, undefined);
    });
    request.on("error", (error) => finish(0, probeError(error)));
  });
}

function probeError(error) {
  if (error.code === "ECONNREFUSED") return "refused";
  if (error.code === "ETIMEDOUT") return "timeout";
  if (error.code === "ECONNRESET" && error.message === "socket hang up") return "empty_reply";
  if (error.code === "ECONNRESET" || error.code === "EPIPE") return "reset";
  return "other";
}

/** Polls PM2 and the health URL every 250 ms until a verdict or the deadline. */
async function verify() {
  const deadline = Date.now() + verifyMs;
  const lines = [];
  const seen = { online: false, firstRestarts: undefined, pid: undefined, pidChanges: 0, healthy: 0 };
  let verdict = "deadline";
  while (deadline - Date.now() >= 100) {
    const at = Date.now();
    const budget = Math.min(3000, deadline - at);
    const [entries, probed] = await Promise.all([appEntries(budget), probe(healthUrl, budget)]);
    const entry = entries && entries[0];
    const appState = entry
      ? {
          status: (entry.pm2_env && entry.pm2_env.status) || "unknown",
          pid: entry.pid || 0,
          restarts: (entry.pm2_env && entry.pm2_env.restart_time) || 0,
          startedAt: entry.pm2_env && entry.pm2_env.pm_uptime ? new Date(entry.pm2_env.pm_uptime).toISOString() : null,
        }
      : null;
    lines.push(JSON.stringify({ at: new Date(at).toISOString(), pm2: entries !== undefined, app: appState, probe: probed }));
    const found = judge(seen, entries !== undefined, appState, entry, probed);
    if (found) {
      verdict = found;
      break;
    }
    await sleep(Math.max(0, Math.min(at + 250, deadline) - Date.now()));
  }
  process.stdout.write(`@@verify\n${thin(lines).join("\n")}${lines.length ? "\n" : ""}verify=${verdict}\n`);
}

/** The verdict after one more observation, or undefined to go on. */
function judge(seen, pm2Up, appState, entry, probed) {
  if (!pm2Up) {
    seen.healthy = 0;
    return undefined;
  }
  const online = appState !== null && appState.status === "online";
  // PM2 started it after the action began: it was online then, even if no poll caught it.
  const startedSince = entry && entry.pm2_env && entry.pm2_env.pm_uptime >= actionStartedMs;
  if ((seen.online || startedSince) && !online) return "died";
  if (online) seen.online = true;
  if (appState) {
    if (seen.firstRestarts === undefined) seen.firstRestarts = appState.restarts;
    if (appState.restarts - seen.firstRestarts >= 3) return "died";
    if (appState.pid > 0) {
      if (seen.pid !== undefined && appState.pid !== seen.pid) seen.pidChanges += 1;
      seen.pid = appState.pid;
      if (seen.pidChanges >= 2) return "died";
    }
  }
  seen.healthy = online && probed.status >= 200 && probed.status < 400 ? seen.healthy + 1 : 0;
  return seen.healthy >= 3 ? "recovered" : undefined;
}

/** Keeps the lines within VERIFY_BUDGET: the newest ones whole, then older ones evenly spaced, the first included. */
function thin(lines) {
  const size = (line) => line.length + 1;
  if (lines.reduce((sum, line) => sum + size(line), 0) <= VERIFY_BUDGET) return lines;
  let used = 0;
  let newest = lines.length;
  while (newest > 0 && used + size(lines[newest - 1]) <= VERIFY_BUDGET * 0.7) used += size(lines[--newest]);
  const average = used / (lines.length - newest);
  const room = Math.max(0, Math.floor((VERIFY_BUDGET - used) / average) - 1);
  const older = [];
  const count = Math.min(room, newest);
  for (let k = 0; k < count; k += 1) older.push(lines[Math.floor((k * newest) / count)]);
  return older.concat(lines.slice(newest));
}

/** Set once the restart is done: a failure after it must not make the restart look failed. */
let acted = mode !== "restart";
process.on("uncaughtException", (error) => {
  say(`reflex: ${error.message || error}`);
  if (!acted) process.exit(1);
  process.stdout.write("verify=error\n");
  process.exit(0);
});

(async () => {
  if (mode === "restart") await restartApp();
  acted = true;
  if (verifyMs > 0 && healthUrl) {
    try {
      await verify();
    } catch (error) {
      say(`verification failed: ${error.message || error}`);
      process.stdout.write("verify=error\n");
    }
  }
  process.exit(0);
})().catch((error) => fail(`reflex: ${error.message || error}`));
'

# The pm2 package behind the pm2 on PATH (a global npm install: <prefix>/lib/node_modules/pm2/bin/pm2).
pm2_package() {
  local bin
  bin="$(command -v pm2)" || return 1
  bin="$(readlink -f "$bin")" || return 1
  dirname "$(dirname "$bin")"
}

# Verification runs after a successful action when both are given.
verify=0
[[ "$verify_seconds" -gt 0 && -n "$health_url" ]] && verify=1

# run_program restart|verify: the node program above; its stdout (the @@verify section) to $work/verify.
run_program() {
  local package
  package="$(pm2_package)" || { echo "reflex: pm2 is not on PATH" >&2; return 127; }
  # The verification, a margin and, for a restart, the action's own 120 s: the program keeps its deadlines within
  # them. Either way the script ends within 120 + 600 + 30 s (infra/documents.ts gives the SSM step more).
  local limit=$((verify_seconds * verify + 30))
  [[ "$1" == restart ]] && limit=$((limit + 120))
  timeout "$limit" "${as_pm2_user[@]}" REFLEX_MODE="$1" REFLEX_APP="$app" \
    REFLEX_PM2_PACKAGE="$package" REFLEX_HUNG_PID="$hung_pid" REFLEX_VERIFY_SECONDS="$((verify_seconds * verify))" \
    REFLEX_HEALTH_URL="$health_url" REFLEX_ACTION_STARTED_MS="$action_started_ms" node -e "$pm2_program" >"$work/verify"
}

run_action() {
  case "$action" in
    restart)
      if [[ -n "$hung_pid" || "$verify" -eq 1 ]]; then
        run_program restart
      else
        timeout 120 "${pm2_cmd[@]}" restart "$app" --no-color --mini-list
      fi
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

# The action's and the verification's output, written by root: the PM2 user only inherits the open files.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
: >"$work/verify"
: >"$work/out"
if [[ "$verify_seconds" -gt 0 && "$verify" -eq 0 ]]; then
  echo "reflex: REFLEX_VERIFY_SECONDS without REFLEX_HEALTH_URL: no verification" >>"$work/out"
fi
action_started_ms="$(date +%s%3N)"

# --no-color and the mini list keep the output short and readable in a report (SSM keeps 24,000 characters);
# stderr is folded into stdout so that a failure's last lines are in the result.
code=0
run_action >>"$work/out" 2>&1 || code=$?
# The start paths keep their own code; they verify afterwards. (A restart verified in its own program.)
if [[ "$code" -eq 0 && "$verify" -eq 1 && "$action" == start ]]; then
  run_program verify 2>>"$work/out" || true
fi
tail -n 40 "$work/out" | cut -c1-300

if [[ "$code" -ne 0 ]]; then
  echo "result=failed action=$action exit=$code"
  exit 1
fi
verdict=""
if [[ "$verify" -eq 1 ]]; then
  # The program bounds the section itself (about 11,000 characters); head and cut only guard against surprises.
  { grep -v '^verify=' "$work/verify" | head -n 250 | cut -c1-400; } || true
  verdict="$(sed -n 's/^verify=\([a-z]*\)$/\1/p' "$work/verify" | tail -n 1)"
  verdict="${verdict:-error}"
fi
echo "result=ok action=$action${verdict:+ verify=$verdict}"
