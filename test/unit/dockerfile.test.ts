/**
 * The Dockerfile's contract, checked on its text on every test run (the full
 * build-start-probe replay, scripts/docker-replay.mjs, runs in .ci/run: it
 * takes minutes), and the replay's own parsing of Dockerfiles and .dockerignore.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  dockerignoreMatcher,
  enginesAdmitMajor,
  parseDockerfile,
  parseKeyValues,
  planStages,
  staticProblems,
} from '../../scripts/docker-replay.mjs';

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const packageJson = JSON.parse(read('package.json')) as { version: string; engines: { node: string } };

describe('the Dockerfile', () => {
  it('has a HEALTHCHECK, a non-root USER, OCI version and revision labels, a grace below the stop timeout and a maintained Node LTS that engines admits', () => {
    assert.deepEqual(staticProblems(planStages(parseDockerfile(read('Dockerfile'))), packageJson), []);
  });

  it('the replay finds what the first release got wrong', () => {
    const first = [
      'FROM node:20-bookworm-slim AS build',
      'WORKDIR /app',
      'RUN npm ci',
      'FROM node:20-bookworm-slim',
      'ENV NODE_ENV=production \\',
      '    GRPC_ADDRESS=0.0.0.0:50051',
      'USER node',
      'CMD ["node", "dist/main.js"]',
    ].join('\n');
    const problems = staticProblems(planStages(parseDockerfile(first)), { version: '0.2.0', engines: { node: '>=20.10 <23' } }, new Date('2026-12-01T00:00:00Z'));
    for (const expected of [/no HEALTHCHECK/, /no LABEL org\.opencontainers\.image\.version/, /no LABEL org\.opencontainers\.image\.revision/, /HERALD_SHUTDOWN_GRACE_MS is 10000/, /node 20 reached its end of life/]) {
      assert.ok(problems.some((p) => expected.test(p)), `${expected} not among ${JSON.stringify(problems)}`);
    }
  });

  it('ARG VERSION defaults to the package.json version', () => {
    const stages = planStages(parseDockerfile(read('Dockerfile')));
    assert.equal(stages.at(-1)?.argDefaults['VERSION'], packageJson.version);
  });
});

describe('parseDockerfile and planStages', () => {
  it('joins continued lines, drops comments inside them, resolves global ARGs in FROM and reads ENV', () => {
    const text = ['# syntax=docker/dockerfile:1', 'ARG BASE=node:24-slim', 'FROM ${BASE} AS build', 'RUN a \\', '  # a comment', '  && b', 'ENV A=1 \\', '    B="two words" C=${A}x'].join('\n');
    const instructions = parseDockerfile(text);
    assert.deepEqual(instructions.map((i) => [i.line, i.name]), [[2, 'ARG'], [3, 'FROM'], [4, 'RUN'], [7, 'ENV']]);
    assert.equal(instructions[2]?.args, 'a \n  && b');
    const [stage] = planStages(instructions, {});
    assert.equal(stage?.image, 'node:24-slim');
    // As in Docker, one ENV instruction sees the values from before it: A was not set yet.
    assert.deepEqual(stage?.env, { A: '1', B: 'two words', C: 'x' });
    assert.equal(planStages(instructions, { BASE: 'node:22-slim' })[0]?.image, 'node:22-slim');
  });

  it('reads LABEL and ENV pairs with quotes, escapes and variables', () => {
    assert.deepEqual(parseKeyValues('a="x y" b=\'$NOPE\' c=${V:-d} e=f\\ g', { V: '' }), [['a', 'x y'], ['b', '$NOPE'], ['c', 'd'], ['e', 'f g']]);
    assert.deepEqual(parseKeyValues('LEGACY some value', {}), [['LEGACY', 'some value']]);
  });
});

describe('dockerignoreMatcher', () => {
  const ignored = dockerignoreMatcher(['# comment', 'node_modules', 'src/generated', '**/*.db', 'docs', '!docs/keep.md', '/dist/'].join('\n'));
  const cases: Array<[string, boolean]> = [
    ['node_modules', true],
    ['node_modules/got/package.json', true],
    ['src/generated/prisma/sqlite/client.ts', true],
    ['src/app.ts', false],
    ['herald.db', true],
    ['data/deep/herald.db', true],
    ['herald.db-wal', false],
    ['docs/ARCHITECTURE.md', true],
    ['docs/keep.md', false],
    ['dist/main.js', true],
    ['distant/x', false],
  ];
  for (const [path, expected] of cases) {
    it(`${expected ? 'excludes' : 'keeps'} ${path}`, () => assert.equal(ignored(path), expected));
  }
});

describe('enginesAdmitMajor', () => {
  const cases: Array<[string, number, boolean]> = [
    ['>=20.10 <25', 20, true],
    ['>=20.10 <25', 24, true],
    ['>=20.10 <25', 25, false],
    ['>=20.10 <25', 18, false],
    ['>=20.10 <23', 24, false],
    ['>=22 <23 || >=24', 24, true],
  ];
  for (const [range, major, expected] of cases) {
    it(`"${range}" ${expected ? 'admits' : 'does not admit'} Node ${major}`, () => assert.equal(enginesAdmitMajor(range, major), expected));
  }
});
