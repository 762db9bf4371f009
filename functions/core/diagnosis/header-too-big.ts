/** The app's response headers on some pages do not fit nginx's header buffer: a 502 on exactly those pages. */
import { configLines, errorLines, probeLines, quote, statusLine } from './evidence-text.ts';
import { mostFirst, timeOf } from './facts.ts';
import { defineRule, type DiagnosisRule } from './rule.ts';

/** nginx's default proxy_buffer_size: one memory page. */
const DEFAULT_BUFFER = "4k or 8k (nginx's default: one memory page)";

/** nginx logs `upstream sent too big header` in the window: the headers (a large Set-Cookie) exceed proxy_buffer_size. */
export function headerTooBigRule(): DiagnosisRule {
  return defineRule('header_too_big', (evidence, facts) => {
    if (!facts.onlineListeners) return undefined;
    const big = evidence.errorLog.filter((entry) => entry.kind === 'header_too_big' && (timeOf(entry.at) ?? 0) >= facts.startMs);
    if (big.length === 0) return undefined;
    const name = evidence.app;
    const proxy = evidence.snapshot.proxy;
    const size = proxy?.proxyBufferSize ?? DEFAULT_BUFFER;
    const buffers = proxy?.proxyBuffers ?? "8 4k or 8 8k (nginx's default)";
    const pages = mostFirst(big.map((entry) => entry.request));
    const pagesText = pages.length > 0 ? pages.map(({ request, count }) => `${quote(request)} (${count}×)`).join(', ') : 'pages the log does not name';
    return {
      summary: `nginx answers 502 on ${pagesText}: ${name}'s response headers there are bigger than proxy_buffer_size (${size}), so nginx logs "upstream sent too big header" (${big.length}×) while other pages work.`,
      advice: [
        `nginx reads the response headers into one buffer of proxy_buffer_size (now ${size}; proxy_buffers ${buffers}). A large Set-Cookie (an auth session) does not fit.`,
        `Raise both in the location that proxies ${name}: \`proxy_buffer_size 32k; proxy_buffers 8 32k;\` (proxy_busy_buffers_size must stay below the proxy_buffers total minus one buffer), then \`nginx -t && nginx -s reload\`.`,
        'Or make the headers smaller: keep the session on the server and send a short session id cookie.',
        'A restart will not help: the same pages send the same headers.',
      ],
      evidence: [
        statusLine(evidence, facts),
        ...errorLines(evidence, (entry) => entry.kind === 'header_too_big'),
        ...configLines(evidence, /^proxy_buffers? /),
        ...probeLines(evidence),
      ],
    };
  });
}
