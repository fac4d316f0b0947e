/**
 * Charts as SVG drawn on the server: no chart library, no script, and they
 * print and screenshot the same as they render. Colours come from classes in
 * console.css (the Content-Security-Policy allows no inline style).
 */
import { HOUR_MS } from '../domain/attempt-series.js';
import { html, type Html } from '../web/html.js';

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

/** The plot of an hourly chart, in SVG user units: the axis labels live in the margins. */
export const FRAME = { width: 560, height: 190, left: 46, right: 12, top: 12, bottom: 30 } as const;
const PLOT_W = FRAME.width - FRAME.left - FRAME.right;
const PLOT_H = FRAME.height - FRAME.top - FRAME.bottom;

/** The smallest 1, 2 or 5 × 10ⁿ at or above `value` (at least 1): a y-axis top with round ticks. */
export function niceCeiling(value: number): number {
  if (!(value > 1)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/** The x of the left edge of slot `i` of `slots`. */
export function slotX(i: number, slots: number): number {
  return FRAME.left + (i * PLOT_W) / slots;
}

/** The y of `value` on an axis from 0 (bottom of the plot) to `max` (top); values beyond are clamped. */
export function valueY(value: number, max: number): number {
  const share = max <= 0 ? 0 : Math.min(1, Math.max(0, value / max));
  return FRAME.top + PLOT_H - share * PLOT_H;
}

const r1 = (n: number): string => String(Math.round(n * 10) / 10);

/**
 * An SVG path through the points of `values` at the centre of their slots;
 * a null ends the line there and the next value starts a new one, so a gap
 * in the data is a gap in the line (never a drop to zero).
 */
export function linePath(values: readonly (number | null)[], max: number): string {
  const parts: string[] = [];
  let drawing = false;
  values.forEach((v, i) => {
    if (v === null) {
      drawing = false;
      return;
    }
    const x = slotX(i + 0.5, values.length);
    parts.push(`${drawing ? 'L' : 'M'}${r1(x)} ${r1(valueY(v, max))}`);
    drawing = true;
  });
  return parts.join(' ');
}

const hhmm = (d: Date): string => `${String(d.getUTCHours()).padStart(2, '0')}:00`;
const hourRange = (d: Date): string => `${d.toISOString().slice(0, 10)} ${hhmm(d)}–${hhmm(new Date(d.getTime() + HOUR_MS))} UTC`;

/** The axes of an hourly chart: y ticks at 0, half and top (half left out when it would not be a whole count), an hour label every three hours. */
function axes(hours: readonly Date[], max: number, format: (v: number) => string, wholeNumbers: boolean): Html {
  const ticks = wholeNumbers && max % 2 !== 0 ? [0, max] : [0, max / 2, max];
  const y = ticks.map((t) => html`<line x1="${FRAME.left}" x2="${FRAME.width - FRAME.right}" y1="${r1(valueY(t, max))}" y2="${r1(valueY(t, max))}" class="${t === 0 ? 'axis' : 'grid'}"></line><text x="${FRAME.left - 6}" y="${r1(valueY(t, max) + 4)}" class="tick tick-y">${format(t)}</text>`);
  const x = hours.map((h, i) =>
    h.getUTCHours() % 3 === 0 ? html`<line x1="${r1(slotX(i, hours.length))}" x2="${r1(slotX(i, hours.length))}" y1="${FRAME.top + PLOT_H}" y2="${FRAME.top + PLOT_H + 4}" class="axis"></line><text x="${r1(slotX(i, hours.length))}" y="${FRAME.height - 10}" class="tick tick-x">${hhmm(h)}</text>` : '',
  );
  return html`<g class="axes">${y}${x}</g>`;
}

function figure(title: string, legend: Html, svgBody: Html, empty: boolean): Html {
  return html`<figure class="chart"><figcaption>${title}${legend}</figcaption><svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${title}" viewBox="0 0 ${FRAME.width} ${FRAME.height}" width="${FRAME.width}" height="${FRAME.height}">${svgBody}${empty ? html`<text x="${FRAME.left + PLOT_W / 2}" y="${FRAME.top + PLOT_H / 2}" class="chart-empty">no attempts in these hours</text>` : ''}</svg></figure>`;
}

/** One stacked bar per hour; each layer's class is its tone. */
export interface StackedHour {
  readonly hourStart: Date;
  readonly layers: ReadonlyArray<{ readonly label: string; readonly value: number; readonly tone: string }>;
}

/** Stacked bars per hour (bottom layer first), scaled to the tallest stack; the hover title gives the hour and its counts. */
export function stackedHourChart(title: string, hours: readonly StackedHour[]): Html {
  const max = niceCeiling(Math.max(0, ...hours.map((h) => h.layers.reduce((a, l) => a + l.value, 0))));
  const slot = PLOT_W / Math.max(1, hours.length);
  const bars = hours.map((h, i) => {
    let below = 0;
    const rects = h.layers.map((l) => {
      const top = valueY(below + l.value, max);
      const height = valueY(below, max) - top;
      below += l.value;
      return l.value === 0 ? '' : html`<rect x="${r1(slotX(i, hours.length) + slot * 0.15)}" y="${r1(top)}" width="${r1(slot * 0.7)}" height="${r1(height)}" class="bar ${l.tone}"></rect>`;
    });
    return below === 0 ? '' : html`<g class="hour"><title>${hourRange(h.hourStart)}: ${h.layers.map((l) => `${l.value} ${l.label}`).join(', ')}</title>${rects}</g>`;
  });
  const keys = hours[0]?.layers.map((l) => html` <span class="key key-${l.tone}">■</span> ${l.label}`) ?? [];
  return figure(title, html`${keys}`, html`${axes(hours.map((h) => h.hourStart), max, String, true)}${bars}`, hours.every((h) => h.layers.every((l) => l.value === 0)));
}

/** A line of an hourly chart: one value per hour, null where there is none. */
export interface HourLine {
  readonly label: string;
  /** A class of console.css for the line, its dots and its key, e.g. `line-p50`. */
  readonly tone: string;
  readonly values: readonly (number | null)[];
}

/**
 * Lines over the hours, with a dot on every value (an hour alone between
 * gaps is a dot); scaled to `max`, or to a round ceiling of the largest value.
 */
export function hourLineChart(title: string, hours: readonly Date[], lines: readonly HourLine[], format: (v: number) => string, max?: number): Html {
  const values = lines.flatMap((l) => l.values.filter((v): v is number => v !== null));
  const top = max ?? niceCeiling(Math.max(0, ...values));
  const drawn = lines.map(
    (l) =>
      html`<g class="series"><path d="${linePath(l.values, top)}" class="line ${l.tone}"></path>${l.values.map((v, i) => (v === null ? '' : html`<circle cx="${r1(slotX(i + 0.5, hours.length))}" cy="${r1(valueY(v, top))}" r="2.5" class="dot ${l.tone}"><title>${hourRange(hours[i] ?? new Date(0))}: ${l.label} ${format(v)}</title></circle>`))}</g>`,
  );
  const keys = lines.map((l) => html` <span class="key key-${l.tone}">■</span> ${l.label}`);
  return figure(title, html`${keys}`, html`${axes(hours, top, format, false)}${drawn}`, values.length === 0);
}
