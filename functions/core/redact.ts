/**
 * Text from a host (a script's output, an app's log line) is shown to people in reports and Slack. It can carry
 * secrets: a token in a URL, a `Bearer` header, an AWS key, `PASSWORD=…` printed by a crashing app.
 * Everything such text goes through here before it leaves the core.
 */

const REDACTED = '[redacted]';

/** Each pattern and what replaces it; `$1` keeps the part that says what was there. */
const RULES: readonly (readonly [RegExp, string])[] = [
  // URLs with credentials: https://user:pass@host → https://[redacted]@host
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^/\s:@]+:[^/\s@]+@/gi, `$1${REDACTED}@`],
  // Authorization headers and bearer tokens.
  [/\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}/g, `$1 ${REDACTED}`],
  // Cookie headers carry sessions: the whole value, every pair of it (an app may log its request headers).
  [/\b((?:Set-)?Cookie:\s*)[^\r\n]+/gi, `$1${REDACTED}`],
  // AWS access key ids (AKIA…, ASIA… temporary).
  [/\b(AKIA|ASIA)[0-9A-Z]{16}\b/g, REDACTED],
  // Slack, GitHub, npm and Stripe-style tokens.
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}/g, REDACTED],
  [/\b(gh[pousr]_[A-Za-z0-9]{20,}|npm_[A-Za-z0-9]{20,}|sk_(live|test)_[A-Za-z0-9]{10,})\b/g, REDACTED],
  // KEY=VALUE, KEY: VALUE and "key":"value" where the key says it is secret (`…_KEY` too: STRIPE_KEY, SIGNING_KEY).
  [
    /(["']?\b[A-Za-z0-9_.-]*(?:secret|token|passw(?:or)?d|pwd|api[_-]?key|access[_-]?key|private[_-]?key|[_-]key\b|credential|session|cookie|auth)[A-Za-z0-9_.-]*["']?\s*[:=]\s*)(?:"[^"]*"|'[^']*'|[^\s,;&"']+)/gi,
    `$1${REDACTED}`,
  ],
  // JWTs.
  [/\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/g, REDACTED],
];

/** The text with every secret-looking value replaced by `[redacted]`. */
export function redact(text: string): string {
  return RULES.reduce((current, [pattern, replacement]) => current.replace(pattern, replacement), text);
}

/**
 * The last lines of a host script's output, for a report when the script failed: stdout then stderr, blank lines
 * dropped, at most `maxLines` lines of at most `maxChars` characters each, redacted.
 */
export function outputTail(run: { readonly stdout: string; readonly stderr: string }, maxLines = 8, maxChars = 240): string[] {
  const lines = `${run.stdout}\n${run.stderr}`
    .split(/\r?\n/)
    // pm2 colours its output unless told not to; escape codes are noise in a report.
    .map((line) => line.replace(/\u001b\[[0-9;]*m/g, '').trim())
    .filter((line) => line !== '');
  // Redacted before it is cut, so that a cut never leaves part of a secret unrecognisable.
  return lines
    .slice(-maxLines)
    .map(redact)
    .map((line) => (line.length > maxChars ? `${line.slice(0, maxChars - 1)}…` : line));
}
