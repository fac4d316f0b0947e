/**
 * HTML that escapes by construction: every value interpolated into an
 * {@link html} template is escaped unless it is itself an {@link Html}
 * fragment, so a page cannot forget to escape an agent id or a response excerpt.
 */

export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/** A value a template may hold: fragments stay as they are, lists are joined, null/undefined/false vanish. */
export type Renderable = Html | string | number | boolean | null | undefined | readonly Renderable[];

function render(value: Renderable): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Renderable[]): Html {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

/** A URL path with query parameters; empty parameters are left out. */
export function href(path: string, params: Readonly<Record<string, string | null | undefined>> = {}): string {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') query.set(k, v);
  const q = query.toString();
  return q === '' ? path : `${path}?${q}`;
}

/** An instant as the console prints it: ISO 8601 in UTC, without zero milliseconds; "—" for none. */
export function iso(d: Date | null): string {
  return d === null ? '—' : d.toISOString().replace('.000Z', 'Z');
}

/** Only the host of a webhook URL: paths and queries may carry the receiver's credentials. */
export function urlHost(url: string | null): string {
  if (url === null || url === '') return '—';
  try {
    return new URL(url).host;
  } catch {
    return '(unparsable)';
  }
}
