/**
 * Charts as SVG drawn on the server: no chart library, no script, and they
 * print and screenshot the same as they render. Colours come from classes in
 * console.css (the Content-Security-Policy allows no inline style).
 */
import { html, type Html } from './html.js';

export interface Bar {
  readonly label: string;
  readonly value: number;
  /** Shown after the bar instead of the value, e.g. "120 ms". */
  readonly text?: string;
  /** A class of console.css that colours the bar, e.g. `bar-failed`. */
  readonly tone?: string;
}

const WIDTH = 420;
const LABEL = 110;
const ROW = 26;

/** Horizontal bars scaled to the largest value (or to `max` when given, e.g. 1 for a rate). */
export function barChart(title: string, bars: readonly Bar[], max?: number): Html {
  const top = max ?? Math.max(1, ...bars.map((b) => b.value));
  const span = WIDTH - LABEL - 70;
  const height = bars.length * ROW + 8;
  const rows = bars.map((b, i) => {
    const y = 4 + i * ROW;
    const w = top <= 0 ? 0 : Math.max(0, Math.round((Math.min(b.value, top) / top) * span));
    return html`<g><text x="0" y="${y + 16}" class="chart-label">${b.label}</text><rect x="${LABEL}" y="${y + 3}" width="${w}" height="${ROW - 8}" class="bar ${b.tone ?? 'bar-plain'}"></rect><text x="${LABEL + w + 6}" y="${y + 16}" class="chart-value">${b.text ?? String(b.value)}</text></g>`;
  });
  return html`<figure class="chart"><figcaption>${title}</figcaption><svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${title}" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}">${rows}</svg></figure>`;
}
