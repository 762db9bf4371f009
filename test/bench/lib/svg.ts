/**
 * A grouped horizontal bar chart as hand-written SVG (no dependency): one group per fault, one bar per responder
 * (the median, with a whisker from the fastest to the slowest run), a dashed line at the app's own boot time.
 */

export interface ChartBar {
  readonly label: string;
  readonly color: string;
  /** Median over the runs that recovered; undefined when none did. */
  readonly medianMs?: number;
  readonly minMs?: number;
  readonly maxMs?: number;
  readonly recovered: number;
  readonly runs: number;
}

export interface ChartGroup {
  readonly label: string;
  readonly bars: readonly ChartBar[];
}

export interface ChartOptions {
  readonly title: string;
  readonly subtitle: string;
  readonly groups: readonly ChartGroup[];
  /** The floor: the app's median boot time, drawn as a dashed line. */
  readonly floorMs?: number;
  readonly floorLabel?: string;
  /** Runs that did not recover within this are drawn up to it, hatched. */
  readonly capMs: number;
  /** Lines of text under the chart. */
  readonly notes?: readonly string[];
}

const WIDTH = 960;
const LEFT = 230;
const RIGHT = 150;
const BAR = 14;
const BAR_GAP = 3;
const GROUP_GAP = 16;
const TOP = 104;
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

/** Escapes text for SVG content and attributes. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The chart as a standalone SVG document. */
export function barChart(options: ChartOptions): string {
  const plotWidth = WIDTH - LEFT - RIGHT;
  const x = (ms: number): number => LEFT + (Math.min(ms, options.capMs) / options.capMs) * plotWidth;
  const barsPerGroup = Math.max(1, ...options.groups.map((group) => group.bars.length));
  const groupHeight = barsPerGroup * (BAR + BAR_GAP) - BAR_GAP;
  const plotHeight = options.groups.length * (groupHeight + GROUP_GAP);
  const notes = options.notes ?? [];
  const height = TOP + plotHeight + 34 + notes.length * 18;
  const parts: string[] = [];

  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ${FONT} font-size="12">`,
    '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">' +
      '<rect width="6" height="6" fill="#f3f4f6"/><line x1="0" y1="0" x2="0" y2="6" stroke="#9ca3af" stroke-width="2"/></pattern></defs>',
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="16" y="26" font-size="16" font-weight="600">${escapeXml(options.title)}</text>`,
    `<text x="16" y="46" fill="#4b5563">${escapeXml(options.subtitle)}</text>`,
  );

  // Legend: one swatch per responder, in the order of the first group.
  let legendX = LEFT;
  for (const bar of options.groups[0]?.bars ?? []) {
    parts.push(`<rect x="${legendX}" y="60" width="12" height="12" fill="${bar.color}"/>`);
    parts.push(`<text x="${legendX + 17}" y="70">${escapeXml(bar.label)}</text>`);
    legendX += 30 + bar.label.length * 7;
  }
  parts.push(`<rect x="${legendX}" y="60" width="12" height="12" fill="url(#hatch)" stroke="#9ca3af"/>`);
  parts.push(`<text x="${legendX + 17}" y="70">not recovered within ${Math.round(options.capMs / 1000)} s</text>`);

  // Grid and axis: a tick every 5 s (every 10 s past 40 s).
  const step = options.capMs > 40_000 ? 10_000 : 5_000;
  for (let ms = 0; ms <= options.capMs; ms += step) {
    parts.push(`<line x1="${x(ms)}" y1="${TOP - 6}" x2="${x(ms)}" y2="${TOP + plotHeight}" stroke="#e5e7eb"/>`);
    parts.push(`<text x="${x(ms)}" y="${TOP + plotHeight + 16}" text-anchor="middle" fill="#4b5563">${ms / 1000} s</text>`);
  }

  options.groups.forEach((group, index) => {
    const top = TOP + index * (groupHeight + GROUP_GAP);
    parts.push(`<text x="${LEFT - 10}" y="${top + groupHeight / 2 + 4}" text-anchor="end" font-weight="600">${escapeXml(group.label)}</text>`);
    group.bars.forEach((bar, position) => {
      const y = top + position * (BAR + BAR_GAP);
      const allFailed = bar.medianMs === undefined;
      const end = allFailed ? x(options.capMs) : x(bar.medianMs!);
      const fill = allFailed ? 'url(#hatch)' : bar.color;
      parts.push(`<rect x="${LEFT}" y="${y}" width="${Math.max(1, end - LEFT)}" height="${BAR}" fill="${fill}"${allFailed ? ' stroke="#9ca3af"' : ''}/>`);
      if (!allFailed && bar.minMs !== undefined && bar.maxMs !== undefined && bar.maxMs > bar.minMs) {
        const middle = y + BAR / 2;
        parts.push(`<line x1="${x(bar.minMs)}" y1="${middle}" x2="${x(bar.maxMs)}" y2="${middle}" stroke="#111827" stroke-width="1.2"/>`);
        parts.push(`<line x1="${x(bar.minMs)}" y1="${middle - 4}" x2="${x(bar.minMs)}" y2="${middle + 4}" stroke="#111827" stroke-width="1.2"/>`);
        parts.push(`<line x1="${x(bar.maxMs)}" y1="${middle - 4}" x2="${x(bar.maxMs)}" y2="${middle + 4}" stroke="#111827" stroke-width="1.2"/>`);
      }
      if (allFailed) {
        // Inside the hatched bar, at its end: the bar already reaches the edge of the plot.
        parts.push(`<text x="${end - 6}" y="${y + BAR - 3}" text-anchor="end" fill="#111827">${escapeXml(`${bar.label}: not recovered (0/${bar.runs})`)}</text>`);
        return;
      }
      const partial = bar.recovered < bar.runs ? ` (${bar.recovered}/${bar.runs} recovered)` : '';
      const labelX = Math.max(end, bar.maxMs !== undefined ? x(bar.maxMs) : end) + 6;
      parts.push(`<text x="${labelX}" y="${y + BAR - 3}" fill="#111827">${escapeXml(`${(bar.medianMs! / 1000).toFixed(2)} s${partial}`)}</text>`);
    });
  });

  if (options.floorMs !== undefined) {
    const floorX = x(options.floorMs);
    parts.push(`<line x1="${floorX}" y1="${TOP - 10}" x2="${floorX}" y2="${TOP + plotHeight}" stroke="#dc2626" stroke-width="1.5" stroke-dasharray="5 4"/>`);
    parts.push(`<text x="${floorX + 4}" y="${TOP - 12}" fill="#dc2626">${escapeXml(options.floorLabel ?? 'floor')}</text>`);
  }

  notes.forEach((note, index) => {
    parts.push(`<text x="16" y="${TOP + plotHeight + 40 + index * 18}" fill="#374151">${escapeXml(note)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
