#!/usr/bin/env bash
# Reflex host snapshot (format version 1, see functions/host/README.md): a live picture of one host.
# Runs locally under bash and remotely under SSM Run Command (as root). Read-only: it never starts,
# stops or changes anything, and never lets the pm2 CLI spawn a daemon.
# Inputs are REFLEX_* environment variables, checked before anything runs; none is spliced into command text.
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

# check NAME PATTERN: an empty or unset optional variable means "use the default".
check() {
  local value="${!1:-}"
  [[ -z "$value" || "$value" =~ $2 ]] || invalid "$1"
}

[[ "${REFLEX_APP:-}" =~ $re_app ]] || invalid REFLEX_APP
check REFLEX_PM2_HOME "$re_path"
check REFLEX_PM2_USER "$re_user"
check REFLEX_HEALTH_URL "$re_url"
check REFLEX_UPSTREAM "$re_url"
check REFLEX_NGINX_CONFIG "$re_path"
check REFLEX_NGINX_ERROR_LOG "$re_path"
check REFLEX_KERNEL_LOG "$re_path"
check REFLEX_SECTIONS '^(full|probe)$'
check REFLEX_PROBE_TIMEOUT '^[0-9]{1,2}$'

app="$REFLEX_APP"
pm2_user="${REFLEX_PM2_USER:-}"
sections="${REFLEX_SECTIONS:-full}"
probe_timeout="${REFLEX_PROBE_TIMEOUT:-3}"
[[ "$probe_timeout" -gt 0 ]] || probe_timeout=3

if [[ -n "${REFLEX_PM2_HOME:-}" ]]; then
  pm2_home="$REFLEX_PM2_HOME"
elif [[ -n "$pm2_user" ]]; then
  user_home="$(getent passwd "$pm2_user" | cut -d: -f6)" || invalid REFLEX_PM2_USER
  [[ -n "$user_home" ]] || invalid REFLEX_PM2_USER
  pm2_home="$user_home/.pm2"
else
  pm2_home="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}/.pm2"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# SSM runs the script in a root-only directory; pm2 run as another user must not inherit it as its cwd.
cd "$pm2_home" 2>/dev/null || cd /

# Every line is cut to 300 characters (SSM returns only the first 24,000 characters of stdout).
cut300() { cut -c1-300; }

# pm2 as the PM2 user (SSM runs as root; PM2 lives under the app user's home), else as the current user.
if [[ -n "$pm2_user" ]]; then
  pm2_cmd=(runuser -u "$pm2_user" -- env PM2_HOME="$pm2_home" pm2)
else
  pm2_cmd=(env PM2_HOME="$pm2_home" pm2)
fi

# The pm2 CLI spawns a daemon when none answers: a dead daemon is evidence, so look before asking.
daemon_alive() {
  local pid state
  [[ -r "$pm2_home/pm2.pid" ]] || return 1
  pid="$(tr -dc '0-9' <"$pm2_home/pm2.pid")"
  [[ -n "$pid" ]] || return 1
  # A zombie (state Z) answers kill -0 but is dead.
  state="$(ps -o stat= -p "$pid" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z* ]]
}

# Reduces `pm2 jlist` (stdin) to the fields Reflex may read. pm2_env.env holds the app's whole environment
# (secrets): only PORT, HOSTNAME and KEEP_ALIVE_TIMEOUT are copied. Prints the JSON line, then `pids=`,
# `pm2_started_at=` and `build_id_mtime=` lines for the app named by REFLEX_APP, and with REFLEX_APP_LOG=1 one
# `app_log=err …`/`app_log=out …` line per kept line of its error and out files (never its env).
# shellcheck disable=SC2016 # the node program is single-quoted on purpose: nothing is interpolated into it
reducer='
const fs = require("fs");
const app = process.env.REFLEX_APP;
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  // pm2 may print notices before the JSON; jlist itself is one line.
  const line = input.split("\n").reverse().find((l) => l.startsWith("["));
  let list;
  try {
    list = JSON.parse(line);
  } catch {
    console.log(JSON.stringify({ error: "pm2 jlist output is not JSON" }));
    return;
  }
  const reduce = (p) => {
    const e = p.pm2_env || {};
    const env = e.env || {};
    const pick = (key) => (typeof env[key] === "string" || typeof env[key] === "number" ? String(env[key]) : undefined);
    return {
      name: p.name,
      pm_id: p.pm_id,
      pid: p.pid,
      monit: { memory: (p.monit || {}).memory, cpu: (p.monit || {}).cpu },
      pm2_env: {
        status: e.status,
        restart_time: e.restart_time,
        unstable_restarts: e.unstable_restarts,
        pm_uptime: e.pm_uptime,
        exit_code: e.exit_code,
        exec_mode: e.exec_mode,
        autorestart: e.autorestart,
        pm_cwd: e.pm_cwd,
        env: { PORT: pick("PORT"), HOSTNAME: pick("HOSTNAME"), KEEP_ALIVE_TIMEOUT: pick("KEEP_ALIVE_TIMEOUT") },
      },
    };
  };
  // The app first, then the others, bounded: the snapshot must stay small.
  const mine = list.filter((p) => p.name === app);
  const others = list.filter((p) => p.name !== app);
  console.log(JSON.stringify([...mine, ...others].slice(0, 12).map(reduce)));
  console.log("pids=" + mine.map((p) => p.pid).filter((pid) => pid > 0).join(" "));
  const first = mine[0];
  if (!first) return;
  const e = first.pm2_env || {};
  if (e.pm_uptime > 0) console.log("pm2_started_at=" + new Date(e.pm_uptime).toISOString());
  if (typeof e.pm_cwd === "string") {
    try {
      console.log("build_id_mtime=" + fs.statSync(e.pm_cwd + "/.next/BUILD_ID").mtime.toISOString());
    } catch {
      // Not a Next.js build directory, or no build yet: no marker.
    }
  }
  if (process.env.REFLEX_APP_LOG === "1") {
    for (const [stream, file] of [["out", e.pm_out_log_path], ["err", e.pm_err_log_path]]) {
      for (const line of appLogTail(file)) console.log("app_log=" + (stream + " " + line).slice(0, 300));
    }
  }
});
// The last lines of one of the app log files: frames and blank lines dropped (they would crowd out the error
// line), colours removed, at most 30 lines and 3,000 characters, newest kept: SSM returns only 24,000 characters.
const appLogTail = (file) => {
  if (typeof file !== "string" || file === "/dev/null") return [];
  let text;
  try {
    const fd = fs.openSync(file, "r");
    const size = fs.fstatSync(fd).size;
    const buffer = Buffer.alloc(Math.min(size, 65536));
    fs.readSync(fd, buffer, 0, buffer.length, size - buffer.length);
    fs.closeSync(fd);
    text = buffer.toString("utf8");
  } catch {
    return [];
  }
  const lines = text
    .split("\n")
    .map((l) => l.replace(/\u001b\[[0-9;]*[A-Za-z]/g, "").replace(/[\u0000-\u001f\u007f]/g, " ").trim().slice(0, 296))
    .filter((l) => l !== "" && !/^at /.test(l) && !/^\d+: 0x[0-9a-f]+/.test(l))
    .slice(-30);
  const kept = [];
  let chars = 0;
  for (const l of lines.reverse()) {
    if ((chars += l.length + 12) > 3000) break;
    kept.unshift(l);
  }
  return kept;
};
'

# pm2.out: the reduced list and markers, or one {"error":…} line.
collect_pm2() {
  local raw="$work/pm2.raw" code=0
  if ! daemon_alive; then
    echo '{"error":"PM2 daemon not running"}' >"$work/pm2.out"
    return 0
  fi
  timeout 20 "${pm2_cmd[@]}" jlist >"$raw" 2>/dev/null || code=$?
  if [[ "$code" -ne 0 ]]; then
    echo "{\"error\":\"pm2 jlist failed (exit $code)\"}" >"$work/pm2.out"
    return 0
  fi
  REFLEX_APP="$app" REFLEX_APP_LOG="$([[ "$sections" == full ]] && echo 1)" node -e "$reducer" <"$raw" >"$work/pm2.out" 2>/dev/null ||
    echo '{"error":"could not reduce pm2 jlist"}' >"$work/pm2.out"
}

# curl_try URL SECONDS: prints `<http code> <seconds> <curl exit>` (exit 7 refused, 28 timeout, 52 empty reply, 56 reset).
curl_try() {
  local out code=0
  out="$(curl -g -s -o /dev/null -m "$2" -w '%{http_code} %{time_total}' "$1")" || code=$?
  echo "$out $code"
}

# write_probe NAME URL "CODE SECONDS EXIT" [SAMPLE]: the probe line, `url=… code=… time=… [cpu=… io=… window_ms=…] exit=…`.
write_probe() {
  local code seconds exit
  read -r code seconds exit <<<"$3"
  echo "url=$2 code=$code time=$seconds${4:+ $4} exit=$exit" | cut300 >"$work/probe-$1"
}

# settle NAME URL "CODE SECONDS EXIT" [SAMPLE]: a first try that timed out is tried again with the full timeout
# (the line says the time of both), so that a slow answer is still an answer.
settle() {
  local code seconds exit more
  read -r code seconds exit <<<"$3"
  if [[ "$exit" == 28 ]]; then
    read -r code more exit <<<"$(curl_try "$2" "$probe_timeout")"
    seconds="$(awk -v a="$seconds" -v b="$more" 'BEGIN { printf "%.6f", a + b }')"
  fi
  write_probe "$1" "$2" "$code $seconds $exit" "${4:-}"
}

# The pids listening on the port of URL (ss names them to root, and to the owner of the processes).
listener_pids() {
  local hostport="${1#*://}" port=80 last
  hostport="${hostport%%/*}"
  last="${hostport##*:}"
  [[ "$1" == https:* ]] && port=443
  # After the last colon: the port, unless that is part of a bare host ([::1], localhost).
  case "$last" in '' | *[!0-9]*) ;; *) port="$last" ;; esac
  ss -tlnpH "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u | tr '\n' ' '
}

# cpu_io PID...: `<CPU ticks> <read/write system calls>` summed over the pids; fails when one cannot be read.
cpu_io() {
  local pid stat io ticks=0 calls=0 fields
  for pid in "$@"; do
    stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
    io="$(awk '/^sysc[rw]:/ { n += $2 } END { print n }' "/proc/$pid/io" 2>/dev/null)" || return 1
    [[ -n "$io" ]] || return 1
    # The command name may hold spaces and parentheses (`next-server (v16.0.0)`): fields count from after it,
    # so utime and stime (fields 14 and 15 of proc(5)) are the 12th and 13th.
    read -r -a fields <<<"${stat##*) }"
    ticks=$((ticks + fields[11] + fields[12]))
    calls=$((calls + io))
  done
  echo "$ticks $calls"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Both probes. A hung app answers neither, and waiting out curl's timeout (3 s) to say so was most of the time
# Reflex took to restart it. So the first try of each lasts first_try seconds, and meanwhile the snapshot watches
# the processes that listen on the upstream port. If the upstream try got no answer and those processes made not
# one read or write system call in that time, their event loop did not even read the probe's request: it is hung,
# whether it spins (CPU ~100 % of a core) or is blocked in a wait (CPU ~0 %), and the probes stop there. A slow app
# still reads its requests (and the health URL is cheap), so anything else gets a second try with the full timeout:
# no app that answered within the timeout before is called hung now. Without pids to watch (ss names them only to
# root and their owner; nginx proxies somewhere else), one try each with the full timeout, as before.
first_try=1
probe_all() {
  local health="${REFLEX_HEALTH_URL:-}" up="" pids="" before="" after="" start end first nginx_first="" sample=""
  local ticks0 calls0 ticks1 calls1 window
  [[ -n "$upstream" ]] && up="${upstream%/}$(health_path)"
  [[ -n "$up" ]] && pids="$(listener_pids "$up" || true)"
  if [[ -n "$pids" && "$first_try" -lt "$probe_timeout" ]]; then
    # shellcheck disable=SC2086 # word splitting of the pid list is intended
    before="$(cpu_io $pids)" || before=""
  fi
  if [[ -z "$before" ]]; then
    [[ -n "$health" ]] && write_probe nginx "$health" "$(curl_try "$health" "$probe_timeout")" &
    [[ -n "$up" ]] && write_probe upstream "$up" "$(curl_try "$up" "$probe_timeout")"
    wait
    return 0
  fi
  [[ -n "$health" ]] && curl_try "$health" "$first_try" >"$work/nginx-first" &
  start="$(now_ms)"
  first="$(curl_try "$up" "$first_try")"
  end="$(now_ms)"
  # shellcheck disable=SC2086
  after="$(cpu_io $pids)" || after=""
  wait
  [[ -n "$health" ]] && nginx_first="$(cat "$work/nginx-first")"
  if [[ -n "$after" && "$first" == "000 "*" 28" ]]; then
    read -r ticks0 calls0 <<<"$before"
    read -r ticks1 calls1 <<<"$after"
    window=$((end > start ? end - start : 1))
    sample="cpu=$(((ticks1 - ticks0) * 100000 / $(getconf CLK_TCK) / window)) io=$((calls1 - calls0)) window_ms=$window"
    if [[ "$calls1" -eq "$calls0" ]]; then
      [[ -n "$health" ]] && write_probe nginx "$health" "$nginx_first"
      write_probe upstream "$up" "$first" "$sample"
      return 0
    fi
  fi
  [[ -n "$health" ]] && settle nginx "$health" "$nginx_first" &
  settle upstream "$up" "$first" "$sample"
  wait
}

# The path (and query) of the health URL, appended to the upstream so both probes ask for the same page.
health_path() {
  local rest="${REFLEX_HEALTH_URL:-}"
  rest="${rest#*://}"
  if [[ "$rest" == */* ]]; then echo "/${rest#*/}"; else echo "/"; fi
}

# nginx -T prints the effective configuration with its includes (Debian's sites-enabled/*, conf.d/*.conf);
# without it, the config file itself. Only the proxy directives are kept.
proxy_filter() {
  sed -e 's/#.*$//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' |
    grep -E '^(proxy_pass|upstream|server|proxy_read_timeout|proxy_connect_timeout|keepalive|keepalive_timeout|proxy_buffer_size|proxy_buffers)([[:space:]]|;|$)|^}$' |
    head -n 120 | cut300
}
read_proxy() {
  # (Not an empty array: bash 4.2, on Amazon Linux 2, calls "${empty[@]}" unbound under set -u.)
  local config_args=(-T)
  [[ -n "${REFLEX_NGINX_CONFIG:-}" ]] && config_args+=(-c "$REFLEX_NGINX_CONFIG")
  if command -v nginx >/dev/null && nginx "${config_args[@]}" >"$work/nginx-t" 2>/dev/null; then
    proxy_filter <"$work/nginx-t" >"$work/proxy" || true
  elif [[ -n "${REFLEX_NGINX_CONFIG:-}" && -r "$REFLEX_NGINX_CONFIG" ]]; then
    proxy_filter <"$REFLEX_NGINX_CONFIG" >"$work/proxy" || true
  fi
}

# What nginx proxies to, from the proxy lines: the first proxy_pass, resolved through its `upstream` block to the
# block's first server. Prints a URL like http://127.0.0.1:3000, or nothing (a variable or a unix socket).
upstream_from_proxy() {
  awk '
    /^upstream [^ ]+ *\{$/ { name = $2; sub(/ *\{$/, "", name); inblock = 1; next }
    inblock && /^}$/ { inblock = 0; next }
    inblock && /^server / { v = $2; sub(/;$/, "", v); if (!(name in first) && v !~ /^unix:/) first[name] = v; next }
    /^proxy_pass / && pass == "" { pass = $2; sub(/;$/, "", pass) }
    END {
      if (pass == "" || pass ~ /\$/) exit
      scheme = pass; sub(/:\/\/.*$/, "", scheme)
      rest = pass; sub(/^[a-z]+:\/\//, "", rest); sub(/\/.*$/, "", rest)
      if (rest in first) { rest = first[rest]; if (rest !~ /:[0-9]+$/) rest = rest ":80" }
      print scheme "://" rest
    }' "$work/proxy" 2>/dev/null
}

upstream="${REFLEX_UPSTREAM:-}"
if [[ "$sections" == full || -z "$upstream" ]]; then
  read_proxy
fi
if [[ -z "$upstream" && -s "$work/proxy" ]]; then
  upstream="$(upstream_from_proxy)"
  # Whatever nginx says is checked like an input before curl sees it.
  [[ "$upstream" =~ $re_url ]] || upstream=""
fi

# Slow parts first, concurrently: pm2 (one CLI call) and the probes.
collect_pm2 &
pids=("$!")
probe_all &
pids+=("$!")

if [[ "$sections" == full ]]; then
  ss -tlnpH 2>/dev/null | sed 's/[[:space:]]*$//' | head -n 40 | cut300 >"$work/listeners" || true

  if [[ -n "${REFLEX_NGINX_ERROR_LOG:-}" && -r "$REFLEX_NGINX_ERROR_LOG" ]]; then
    tail -n 20 "$REFLEX_NGINX_ERROR_LOG" | cut300 >"$work/nginx-error" || true
  fi
  if [[ -r "$pm2_home/pm2.log" ]]; then
    # The daemon's start banner (`=====`, `PM2 home : …`) would crowd out app events; its `New PM2 Daemon started` line stays.
    tail -n 200 "$pm2_home/pm2.log" | grep -Ev 'PM2 log: (=+$|[A-Z][A-Za-z0-9 .]* +: )' | tail -n 20 | cut300 >"$work/pm2-log" || true
  fi

  oom_lines() { grep -E 'Killed process [0-9]+|Kill process [0-9]+' | tail -n 5 | cut300; }
  if [[ -n "${REFLEX_KERNEL_LOG:-}" ]]; then
    if [[ -r "$REFLEX_KERNEL_LOG" ]]; then oom_lines <"$REFLEX_KERNEL_LOG" >"$work/kernel" || true; fi
  elif dmesg --time-format iso >"$work/dmesg" 2>/dev/null; then
    oom_lines <"$work/dmesg" >"$work/kernel" || true
  elif journalctl -k -o short-iso --no-pager -q >"$work/dmesg" 2>/dev/null; then
    oom_lines <"$work/dmesg" >"$work/kernel" || true
  fi

  # The apps PM2 would bring back (`pm2 save` wrote them; `pm2 resurrect` restores them): names only, never env.
  if [[ -r "$pm2_home/dump.pm2" ]]; then
    # shellcheck disable=SC2016 # a node program, nothing interpolated
    node -e '
      const names = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).map((app) => app && app.name);
      console.log(names.filter((name) => typeof name === "string" && /^[A-Za-z0-9._-]{1,64}$/.test(name)).slice(0, 20).join(" "));
    ' "$pm2_home/dump.pm2" >"$work/pm2-saved" 2>/dev/null || rm -f "$work/pm2-saved"
  fi

  awk '/^MemTotal:/ { t = $2 } /^MemAvailable:/ { a = $2 } END { if (t) printf "total_kb=%s available_kb=%s\n", t, a }' \
    /proc/meminfo >"$work/memory" 2>/dev/null || true
fi

wait "${pids[@]}" || true

# Descendants of the given pids, depth first (a Next.js server may fork workers).
descendants() {
  local pid child
  for pid in "$@"; do
    echo "$pid"
    for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
      descendants "$child"
    done
  done
}

section() {
  echo "@@$1"
  [[ -s "$work/$2" ]] && cat "$work/$2"
  return 0
}

echo '@@reflex-snapshot 1'
echo '@@meta'
echo "taken_at=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)"
echo "hostname=$(uname -n)"
echo "app=$app"
echo '@@pm2'
head -n 1 "$work/pm2.out"
if [[ "$sections" == full ]]; then
  app_pids="$(sed -n 's/^pids=//p' "$work/pm2.out")"
  echo '@@app-pids'
  if [[ -n "$app_pids" ]]; then
    # shellcheck disable=SC2086 # word splitting of the pid list is intended
    descendants $app_pids | tr '\n' ' ' | sed 's/ $/\n/'
  fi
  section listeners listeners
fi
[[ -e "$work/probe-nginx" ]] && section 'probe nginx' probe-nginx
[[ -e "$work/probe-upstream" ]] && section 'probe upstream' probe-upstream
if [[ "$sections" == full ]]; then
  [[ -e "$work/proxy" ]] && section nginx-proxy proxy
  [[ -e "$work/nginx-error" ]] && section nginx-error nginx-error
  [[ -e "$work/pm2-log" ]] && section pm2-log pm2-log
  [[ -e "$work/kernel" ]] && section kernel kernel
  [[ -s "$work/memory" ]] && section memory memory
  [[ -e "$work/pm2-saved" ]] && section pm2-saved pm2-saved
  echo '@@deploy'
  grep -E '^(pm2_started_at|build_id_mtime)=' "$work/pm2.out" || true
  # The app's own output, where it says why it died (raw lines: the core redacts them).
  echo '@@app-log'
  sed -n 's/^app_log=//p' "$work/pm2.out"
fi
echo '@@end'
