/**
 * The documentation is split by reader (README, then docs/*.md); a section
 * moved from one page to another must not leave a link pointing at nothing.
 * Every relative link of README.md and docs/*.md must name a file or folder
 * of the repository, and an anchor (`page.md#section`, `#section`) must name
 * a heading of that page, spelled as GitHub spells anchors.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The Markdown pages users read: README, the pages of docs/, and the examples' READMEs. */
function pages(): string[] {
  const docs = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join(root, 'docs', f));
  const examples = readdirSync(join(root, 'examples'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, 'examples', d.name, 'README.md')))
    .map((d) => join(root, 'examples', d.name, 'README.md'));
  return [join(root, 'README.md'), join(root, 'CHANGELOG.md'), ...docs, ...examples];
}

/** Lines outside fenced code blocks: a `[x](y)` inside a code sample is not a link. */
function prose(text: string): string[] {
  let fenced = false;
  return text.split('\n').filter((line) => {
    if (line.startsWith('```')) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- _]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(file: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of prose(readFileSync(file, 'utf8'))) {
    const heading = /^#{1,6} (.*)$/.exec(line);
    if (heading === null) continue;
    const base = anchorOf(heading[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Every broken relative link of one page, as "page: [text](href): why". */
function brokenLinks(page: string): string[] {
  const broken: string[] = [];
  for (const line of prose(readFileSync(page, 'utf8'))) {
    // Inline code is not a link either.
    const text = line.replace(/`[^`]*`/g, '``');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const href = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(href)) continue; // https:, mailto:
      const [path = '', anchor] = href.split('#');
      const target = path === '' ? page : resolve(dirname(page), decodeURI(path));
      const where = `${relative(root, page)}: (${href})`;
      if (!existsSync(target)) {
        broken.push(`${where}: no file ${relative(root, target)}`);
        continue;
      }
      if (anchor !== undefined && target.endsWith('.md') && !anchorsOf(target).has(anchor)) {
        broken.push(`${where}: no heading with the anchor #${anchor} in ${relative(root, target)}`);
      }
    }
  }
  return broken;
}

test('every relative link of README and docs/ names an existing file and, with an anchor, an existing heading', () => {
  const all = pages();
  assert.ok(all.length >= 8, `expected README and the pages of docs/, found ${all.length}`);
  assert.deepEqual(all.flatMap(brokenLinks), []);
});

test('README stays an entry point: under 250 lines, with the two commands and a link to each reader\'s page', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  assert.ok(readme.split('\n').length <= 250, `README.md has ${readme.split('\n').length} lines`);
  assert.match(readme, /npm install && npm start/);
  assert.match(readme, /npm install && npm test/);
  for (const page of ['docs/api.md', 'docs/webhooks.md', 'docs/configuration.md', 'docs/security.md', 'docs/guarantees.md']) {
    assert.ok(readme.includes(`](${page}`), `README links to ${page}`);
  }
});

test('the anchor rule spells headings as GitHub does', () => {
  assert.equal(anchorOf('Limits: what every request must fit'), 'limits-what-every-request-must-fit');
  assert.equal(anchorOf('verifyWebhook in a Node receiver'), 'verifywebhook-in-a-node-receiver');
  assert.equal(anchorOf('Tenants, tokens and roles'), 'tenants-tokens-and-roles');
  assert.equal(anchorOf('`@herald/client` methods'), 'heraldclient-methods');
});
