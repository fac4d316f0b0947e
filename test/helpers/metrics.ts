/**
 * Fetches a Prometheus text exposition from a running Herald and looks up
 * samples by name and exact label set.
 */
import assert from 'node:assert/strict';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Scrape {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
  readonly samples: readonly Sample[];
  /** The value of the one sample with exactly these labels, or undefined. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Like `value`, but fails the test when the sample is missing. */
  get(name: string, labels?: Record<string, string>): number;
}

export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (m === null) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

function sameLabels(a: Readonly<Record<string, string>>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

export async function scrape(port: number, path = '/metrics'): Promise<Scrape> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  const text = await res.text();
  const samples = res.status === 200 ? parseExposition(text) : [];
  const value = (name: string, labels: Record<string, string> = {}): number | undefined => samples.find((s) => s.name === name && sameLabels(s.labels, labels))?.value;
  return {
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    text,
    samples,
    value,
    get(name, labels = {}) {
      const v = value(name, labels);
      assert.notEqual(v, undefined, `no sample ${name}${JSON.stringify(labels)} in the scrape; samples named ${name}: ${JSON.stringify(samples.filter((s) => s.name === name).map((s) => s.labels))}`);
      return v!;
    },
  };
}
