// Replays the Dockerfile without Docker (no engine runs on our build machines)
// and checks that the result starts and reports healthy the way the image would.
//
//   node scripts/docker-replay.mjs [--build-arg NAME=VALUE]... [--keep]
//
// Each stage gets a scratch directory standing for its filesystem root. Its
// COPY, RUN, WORKDIR, ENV, ARG and LABEL steps run in order, as `docker build`
// runs them: COPY from the build context honours .dockerignore, COPY --from
// reads the named earlier stage's directory, RUN runs with /bin/sh -c in the
// stage's working directory with its ENV and ARGs, absolute paths in RUN and
// ENV rewritten into the stage directory. What needs root or the base image's
// packages is skipped and said so (apt-get, chown unless run as root, USER).
// Then the final stage is started the way CMD says, with DATABASE_URL inside
// its scratch directory and GRPC_ADDRESS on a free loopback port (as `nobody`
// when run as root, standing for the image's non-root USER), asked for health
// through the HEALTHCHECK command until it answers, stopped with STOPSIGNAL
// within Docker's default stop timeout, and probed once more (which must fail).
// Static checks on the Dockerfile come first: HEALTHCHECK, non-root USER, OCI
// labels, a maintained Node LTS base that package.json `engines` admits, the
// shutdown grace below the stop timeout.
//
// The replay uses the Node running this script, which should be the base
// image's (.ci/run runs it under that Node); npm runs with --prefer-offline.
// Exit code: 0 when every check passes, 1 otherwise.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Docker's default `docker stop` timeout: SIGKILL follows the stop signal after this long. */
export const DOCKER_STOP_TIMEOUT_MS = 10_000;

/**
 * Node release lines with their end of life (https://github.com/nodejs/Release).
 * The check fails once the image's line is past it: that is the point.
 */
export const NODE_LTS_END_OF_LIFE = { 20: '2026-04-30', 22: '2027-04-30', 24: '2028-04-30' };

// ---------------------------------------------------------------- parsing

/** The Dockerfile as instructions: `{ line, name (upper case), args (text after the name) }`. */
export function parseDockerfile(text) {
  const instructions = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let line = lines[i].replace(/\r$/, '');
    if (/^\s*(#|$)/.test(line)) continue;
    let continued = /\\\s*$/.test(line);
    line = line.replace(/\\\s*$/, '');
    while (continued && i + 1 < lines.length) {
      const next = lines[++i].replace(/\r$/, '');
      // Comment lines inside a continuation are dropped, as Docker does.
      if (/^\s*#/.test(next)) continue;
      continued = /\\\s*$/.test(next);
      line += `\n${next.replace(/\\\s*$/, '')}`;
    }
    const match = /^\s*(\S+)\s*([\s\S]*)$/.exec(line);
    instructions.push({ line: start, name: match[1].toUpperCase(), args: match[2].trim() });
  }
  return instructions;
}

/** Leading `--flag=value` options of an instruction, and the rest. */
function splitFlags(args) {
  const flags = {};
  let rest = args;
  for (;;) {
    const m = /^--([a-z-]+)(?:=(\S*))?\s+/.exec(rest);
    if (!m) return { flags, rest };
    flags[m[1]] = m[2] ?? 'true';
    rest = rest.slice(m[0].length);
  }
}

/** Expands `$X`, `${X}`, `${X:-word}` and `${X:+word}` from `vars`, as Docker does in COPY, ENV, LABEL, FROM, WORKDIR. */
export function substitute(text, vars) {
  return text.replace(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_, braced, op, word, bare) => {
    const value = vars[braced ?? bare];
    if (op === '-') return value ? value : word;
    if (op === '+') return value ? word : '';
    return value ?? '';
  });
}

/** `K=V K2="v 2"` (or the legacy `K V`) as pairs, quotes removed, variables expanded. */
export function parseKeyValues(args, vars) {
  const pairs = [];
  if (!/^[^\s=]+=/.test(args)) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(args);
    if (m) pairs.push([m[1], substitute(m[2], vars)]);
    return pairs;
  }
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|(?:[^\s\\]|\\.)*)/g;
  for (const m of args.matchAll(re)) {
    let value = m[2];
    if (value.startsWith("'")) value = value.slice(1, -1);
    else {
      value = substitute(value.startsWith('"') ? value.slice(1, -1) : value, vars);
      value = value.replace(/\\(.)/g, '$1');
    }
    pairs.push([m[1], value]);
  }
  return pairs;
}

/** Exec form `["a", "b"]` as an array, or null for the shell form. */
function execForm(args) {
  if (!args.startsWith('[')) return null;
  const parsed = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) throw new Error(`not a JSON array of strings: ${args}`);
  return parsed;
}

/** A .dockerignore as a predicate on context-relative paths (`a/b/c`), with Docker's rules: `**`, `!` exceptions, the last match wins, a match on a parent directory counts. */
export function dockerignoreMatcher(text) {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = posix.normalize((negate ? l.slice(1) : l).trim()).replace(/^\/+/, '').replace(/\/+$/, '');
      let re = '';
      for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i];
        if (c === '*' && pattern[i + 1] === '*') {
          i++;
          if (pattern[i + 1] === '/') {
            i++;
            re += '(?:.*/)?';
          } else re += '.*';
        } else if (c === '*') re += '[^/]*';
        else if (c === '?') re += '[^/]';
        else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      return { negate, re: new RegExp(`^${re}$`) };
    });
  const matches = (re, path) => {
    const parts = path.split('/');
    for (let n = 1; n <= parts.length; n++) if (re.test(parts.slice(0, n).join('/'))) return true;
    return false;
  };
  const ignored = (path) => {
    let result = false;
    for (const rule of rules) if (matches(rule.re, path)) result = !rule.negate;
    return result;
  };
  ignored.hasExceptions = rules.some((r) => r.negate);
  return ignored;
}

/**
 * Groups instructions by stage and evaluates what needs no execution: each
 * stage's image, ARG defaults and values (`buildArgs` win), ENV and LABEL.
 */
export function planStages(instructions, buildArgs = {}) {
  const globalArgs = {};
  const stages = [];
  for (const ins of instructions) {
    if (ins.name === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      const image = substitute(m[1], globalArgs);
      stages.push({ name: m[2] ?? String(stages.length), image, instructions: [], env: {}, labels: {}, args: {}, argDefaults: {} });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) {
      if (ins.name !== 'ARG') throw new Error(`line ${ins.line}: ${ins.name} before the first FROM`);
      const [name, def] = ins.args.split(/=(.*)/s);
      globalArgs[name] = buildArgs[name] ?? def;
      continue;
    }
    stage.instructions.push(ins);
    const vars = { ...stage.args, ...stage.env };
    if (ins.name === 'ARG') {
      const [name, def] = ins.args.split(/=(.*)/s);
      stage.argDefaults[name] = def;
      stage.args[name] = buildArgs[name] ?? def ?? globalArgs[name] ?? '';
    } else if (ins.name === 'ENV') {
      for (const [k, v] of parseKeyValues(ins.args, vars)) stage.env[k] = v;
    } else if (ins.name === 'LABEL') {
      for (const [k, v] of parseKeyValues(ins.args, vars)) stage.labels[k] = v;
    }
  }
  return stages;
}

// ---------------------------------------------------------------- checks on the text

/** Whether `major.0.0`..`major.99.99` falls inside a plain npm range such as `>=20.10 <25`. */
export function enginesAdmitMajor(range, major) {
  const cmp = (a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
  const version = (s) => {
    const p = s.split('.').map(Number);
    return [p[0] ?? 0, p[1] ?? 0, p[2] ?? 0];
  };
  return range.split('||').some((alt) =>
    [[major, 0, 0], [major, 99, 99]].some((v) =>
      alt.trim().split(/\s+/).every((c) => {
        const m = /^(>=|<=|>|<|=)?v?([\d.]+)$/.exec(c);
        if (!m) return false;
        const d = cmp(v, version(m[2]));
        return { '>=': d >= 0, '<=': d <= 0, '>': d > 0, '<': d < 0, '=': d === 0, undefined: d === 0 }[m[1]];
      }),
    ),
  );
}

/** The problems with a parsed Dockerfile's final stage and base image, as messages (none: it passes). */
export function staticProblems(stages, packageJson, today = new Date()) {
  const problems = [];
  const final = stages.at(-1);
  const health = final.instructions.find((i) => i.name === 'HEALTHCHECK');
  if (!health || /^NONE\b/i.test(health.args)) problems.push('the final stage has no HEALTHCHECK');
  const user = final.instructions.filter((i) => i.name === 'USER').at(-1)?.args;
  if (!user || /^(root|0)(:|$)/.test(user)) problems.push('the final stage runs as root (no USER, or USER root)');
  for (const label of ['org.opencontainers.image.version', 'org.opencontainers.image.revision']) {
    if (!(label in final.labels)) problems.push(`the final stage has no LABEL ${label}`);
  }
  if (final.argDefaults.VERSION !== undefined && final.argDefaults.VERSION !== packageJson.version) {
    problems.push(`ARG VERSION defaults to ${final.argDefaults.VERSION} but package.json says ${packageJson.version}`);
  }
  const grace = Number(final.env.HERALD_SHUTDOWN_GRACE_MS ?? 10_000);
  if (!(grace < DOCKER_STOP_TIMEOUT_MS - 1_000)) {
    problems.push(`HERALD_SHUTDOWN_GRACE_MS is ${grace} in the image: Docker's default stop timeout (${DOCKER_STOP_TIMEOUT_MS} ms) leaves no time to close the database after draining`);
  }
  for (const stage of stages) {
    const m = /^node:(\d+)/.exec(stage.image);
    if (!m) {
      problems.push(`stage ${stage.name}: base image ${stage.image} is not an official node image`);
      continue;
    }
    const major = Number(m[1]);
    const eol = NODE_LTS_END_OF_LIFE[major];
    if (eol === undefined) problems.push(`stage ${stage.name}: node ${major} is not an LTS line this check knows (${Object.keys(NODE_LTS_END_OF_LIFE).join(', ')})`);
    else if (today > new Date(`${eol}T23:59:59Z`)) problems.push(`stage ${stage.name}: node ${major} reached its end of life on ${eol}`);
    if (!enginesAdmitMajor(packageJson.engines?.node ?? '*', major)) {
      problems.push(`stage ${stage.name}: package.json engines.node "${packageJson.engines?.node}" does not admit node ${major}`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------- replay

const log = (msg) => console.log(msg);

/** An absolute image path inside a stage's scratch root. */
const inRoot = (root, imagePath) => join(root, posix.resolve('/', imagePath));

/** Absolute paths in a shell command or an ENV value, rewritten into the stage root (device files and `scheme://` excepted). */
function rewritePaths(text, root) {
  return text.replace(/(^|[\s=:'"])(\/(?!dev\/|\/)[A-Za-z0-9._\-/*]*)/g, (_, before, path) => before + inRoot(root, path));
}

function idsOf(name) {
  const id = (flag) => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** Splits a RUN command on its top-level `&&`, leaving quoted text alone. */
function splitAnd(command) {
  const parts = [];
  let current = '';
  let quote = null;
  for (let i = 0; i < command.length; i++) {
    const c = command[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '&' && command[i + 1] === '&') {
      parts.push(current.trim());
      current = '';
      i++;
      continue;
    }
    current += c;
  }
  parts.push(current.trim());
  return parts.filter((p) => p !== '');
}

class Replay {
  constructor({ context, dockerfile, buildArgs, scratch, asNobody }) {
    this.context = context;
    this.buildArgs = buildArgs;
    this.scratch = scratch;
    this.asNobody = asNobody;
    this.nobody = asNobody ? idsOf('nobody') : null;
    this.ignored = dockerignoreMatcher(existsSync(join(context, '.dockerignore')) ? readFileSync(join(context, '.dockerignore'), 'utf8') : '');
    this.stages = planStages(parseDockerfile(readFileSync(dockerfile, 'utf8')), buildArgs);
  }

  stage(name) {
    const found = this.stages.find((s) => s.name === name);
    if (!found) throw new Error(`COPY --from=${name}: no such stage`);
    return found;
  }

  /** Runs every stage's steps in order; throws on the first failing one. */
  build() {
    for (const stage of this.stages) {
      stage.root = join(this.scratch, 'stages', stage.name);
      mkdirSync(stage.root, { recursive: true });
      let workdir = '/';
      const env = {};
      const args = {};
      log(`\n== stage ${stage.name} (FROM ${stage.image}) in ${stage.root}`);
      for (const ins of stage.instructions) {
        const vars = { ...args, ...env };
        const where = `line ${ins.line}: ${ins.name}`;
        switch (ins.name) {
          case 'ARG': {
            const [name] = ins.args.split('=');
            args[name] = stage.args[name];
            break;
          }
          case 'ENV':
            for (const [k, v] of parseKeyValues(ins.args, vars)) env[k] = v;
            break;
          case 'WORKDIR':
            workdir = posix.resolve(workdir, substitute(ins.args, vars));
            mkdirSync(inRoot(stage.root, workdir), { recursive: true });
            break;
          case 'COPY':
            this.#copy(stage, workdir, substitute(ins.args, vars), where);
            break;
          case 'RUN':
            this.#run(stage, workdir, { ...args, ...env }, ins.args, where);
            break;
          case 'USER':
            log(`${where} ${ins.args}: skipped (the replay runs as the invoking user; the final start runs as ${this.asNobody ? 'nobody' : 'the invoking user, not root'})`);
            break;
          case 'LABEL':
          case 'EXPOSE':
          case 'VOLUME':
          case 'STOPSIGNAL':
          case 'HEALTHCHECK':
          case 'CMD':
            break;
          default:
            throw new Error(`${where}: not something this replay knows how to run`);
        }
      }
      stage.workdir = workdir;
    }
  }

  #copy(stage, workdir, argsText, where) {
    const { flags, rest } = splitFlags(argsText);
    if (flags.chown) log(`${where} --chown=${flags.chown}: ownership not replayed`);
    const words = execForm(rest) ?? rest.split(/\s+/);
    const sources = words.slice(0, -1);
    const destWord = words.at(-1);
    const dest = inRoot(stage.root, posix.resolve(workdir, destWord));
    const intoDir = destWord.endsWith('/') || destWord === '.' || sources.length > 1;
    const from = flags.from === undefined ? null : this.stage(flags.from);
    for (const src of sources) {
      if (/[*?[]/.test(src)) throw new Error(`${where}: wildcards in COPY sources are not replayed (${src})`);
      let path;
      if (from) {
        path = inRoot(from.root, posix.resolve(from.workdir ?? '/', src));
      } else {
        const rel = posix.normalize(src).replace(/^\/+/, '').replace(/\/+$/, '');
        if (rel === '..' || rel.startsWith('../')) throw new Error(`${where}: ${src} is outside the build context`);
        if (rel !== '.' && rel !== '' && this.ignored(rel)) throw new Error(`${where}: ${src} is excluded by .dockerignore`);
        path = join(this.context, rel);
      }
      if (!existsSync(path)) throw new Error(`${where}: ${src} not found${from ? ` in stage ${from.name}` : ' in the build context'}`);
      const isDir = statSync(path).isDirectory();
      const target = isDir || !intoDir ? dest : join(dest, posix.basename(src));
      mkdirSync(isDir ? target : dirname(target), { recursive: true });
      const filter = from
        ? undefined
        : (s) => {
            const rel = relative(this.context, s).split('\\').join('/');
            if (rel === '' || !this.ignored(rel)) return true;
            return this.ignored.hasExceptions && statSync(s).isDirectory();
          };
      cpSync(path, target, { recursive: true, verbatimSymlinks: true, ...(filter ? { filter } : {}) });
    }
    log(`${where} ${argsText}`);
  }

  #run(stage, workdir, vars, command, where) {
    if (execForm(command)) throw new Error(`${where}: exec-form RUN is not replayed`);
    const kept = [];
    for (const part of splitAnd(command)) {
      const [word] = part.split(/\s+/);
      if (word === 'apt-get' || /^rm -rf \/var\/lib\/apt/.test(part)) {
        log(`${where}: skipped "${part}" (Debian packages come from this machine: python3, make and g++ must be installed)`);
      } else if (word === 'chown') {
        if (this.asNobody) {
          kept.push(part.replace(/^chown\s+\S+/, `chown ${this.nobody.uid}:${this.nobody.gid}`));
          log(`${where}: "${part}" replayed for nobody, who stands for the image's user`);
        } else log(`${where}: skipped "${part}" (changing ownership needs root)`);
      } else kept.push(part);
    }
    if (kept.length === 0) return;
    const script = rewritePaths(kept.join(' && '), stage.root);
    log(`${where} ${kept.join(' && ')}`);
    const started = Date.now();
    const result = spawnSync('/bin/sh', ['-c', script], {
      cwd: inRoot(stage.root, workdir),
      stdio: 'inherit',
      env: { ...baseEnv(), npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false', ...vars },
    });
    if (result.status !== 0) throw new Error(`${where} failed (exit ${result.status ?? result.signal})`);
    log(`   (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
}

/** What a container starts with besides the image's ENV: the Node running the replay first on PATH. */
function baseEnv() {
  return {
    PATH: `${dirname(process.execPath)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    HOME: process.env.HOME ?? '/root',
    ...(process.env.npm_config_nodedir ? { npm_config_nodedir: process.env.npm_config_nodedir } : {}),
  };
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts the final stage as its CMD says, asks its HEALTHCHECK, stops it; returns the problems found. */
async function startAndProbe(replay) {
  const problems = [];
  const final = replay.stages.at(-1);
  const ins = (name) => final.instructions.filter((i) => i.name === name).at(-1);
  const command = (text, what) => {
    const exec = execForm(text);
    const argv = exec ?? ['/bin/sh', '-c', text];
    if (argv[0] === 'node') argv[0] = process.execPath;
    if (!exec) log(`${what} is in shell form: run through /bin/sh -c`);
    return argv;
  };
  const cmd = command(ins('CMD').args, 'CMD');
  const health = ins('HEALTHCHECK');
  const probe = health && !/^NONE\b/i.test(health.args) ? command(splitFlags(health.args).rest.replace(/^CMD\s+/, ''), 'HEALTHCHECK') : null;
  const port = await freePort();
  const env = { ...baseEnv() };
  for (const [k, v] of Object.entries(final.env)) env[k] = rewritePaths(v, final.root);
  env.GRPC_ADDRESS = `127.0.0.1:${port}`;
  env.HOME = final.root;
  const cwd = inRoot(final.root, final.workdir);
  const ids = replay.asNobody ? replay.nobody : {};
  log(`\n== start: ${ins('CMD').args} in ${cwd}${replay.asNobody ? ' as nobody' : ''}`);
  log(`   DATABASE_URL=${env.DATABASE_URL} GRPC_ADDRESS=${env.GRPC_ADDRESS}`);
  const child = spawn(cmd[0], cmd.slice(1), { cwd, env, ...ids, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = [];
  child.stdout.on('data', (d) => output.push(String(d)));
  child.stderr.on('data', (d) => output.push(String(d)));
  let exit = null;
  const exited = new Promise((r) => child.on('exit', (code, signal) => r((exit = { code, signal }))));

  // Without a HEALTHCHECK there is nothing to ask: the process staying up for a while is all that can be seen.
  const runProbe = async () => {
    if (probe === null) {
      await Promise.race([exited, sleep(10_000)]);
      return exit === null ? { status: 0, out: 'no HEALTHCHECK: the process is still running after 10 s' } : { status: 1, out: 'no HEALTHCHECK, and the process exited' };
    }
    const r = spawnSync(probe[0], probe.slice(1), { cwd, env, ...ids, encoding: 'utf8', timeout: 10_000 });
    return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
  };
  const deadline = Date.now() + 60_000;
  let healthy = null;
  while (Date.now() < deadline && exit === null) {
    const r = await runProbe();
    log(`   HEALTHCHECK → exit ${r.status}: ${r.out}`);
    if (r.status === 0) {
      healthy = r;
      break;
    }
    await sleep(1_000);
  }
  if (healthy === null) {
    problems.push(exit !== null ? `the container's process exited (${exit.code ?? exit.signal}) before it was healthy` : 'the HEALTHCHECK never passed within 60 s');
  }
  if (exit === null) {
    const signal = (ins('STOPSIGNAL')?.args ?? 'SIGTERM').replace(/^(?!SIG)/, 'SIG');
    const stopAt = Date.now();
    child.kill(signal);
    const stopped = await Promise.race([exited, sleep(DOCKER_STOP_TIMEOUT_MS).then(() => null)]);
    if (stopped === null) {
      child.kill('SIGKILL');
      await exited;
      problems.push(`after ${signal} the process was still running at Docker's default stop timeout (${DOCKER_STOP_TIMEOUT_MS} ms): docker stop would kill it`);
    } else {
      log(`== ${signal}: exited with ${stopped.code ?? stopped.signal} after ${Date.now() - stopAt} ms`);
      if (stopped.code !== 0) problems.push(`after ${signal} the process exited with ${stopped.code ?? stopped.signal}, not 0`);
    }
    if (probe !== null) {
      const after = await runProbe();
      log(`   HEALTHCHECK with the server stopped → exit ${after.status}: ${after.out}`);
      if (after.status === 0) problems.push('the HEALTHCHECK passes with no server running: it cannot fail');
    }
  }
  if (problems.length > 0) log(`\n-- the process's output:\n${output.join('').trimEnd()}`);
  return problems;
}

/** The final image's node_modules must hold no development-only package. */
function devPackagesLeft(replay, packageJson, lock) {
  const final = replay.stages.at(-1);
  const modules = inRoot(final.root, posix.join(final.workdir, 'node_modules'));
  const devOnly = Object.keys(packageJson.devDependencies ?? {}).filter((name) => {
    const entry = lock.packages?.[`node_modules/${name}`];
    return entry === undefined || entry.dev === true || entry.devOptional === true;
  });
  const du = spawnSync('du', ['-sm', modules], { encoding: 'utf8' }).stdout.split('\t')[0];
  log(`\n== the final stage's node_modules: ${du} MB`);
  return devOnly.filter((name) => existsSync(join(modules, name))).map((name) => `the final stage's node_modules holds ${name}, a development dependency`);
}

async function main(argv) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const buildArgs = {};
  let keep = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--keep') keep = true;
    else if (argv[i] === '--build-arg') {
      const [k, v] = argv[++i].split(/=(.*)/s);
      buildArgs[k] = v;
    } else throw new Error(`unknown argument ${argv[i]}`);
  }
  const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  if (buildArgs.REVISION === undefined) {
    const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' });
    if (rev.status === 0) buildArgs.REVISION = rev.stdout.trim();
  }
  const scratch = mkdtempSync(join(tmpdir(), 'herald-docker-replay-'));
  const asNobody = process.getuid?.() === 0;
  // nobody must reach the final stage's files through the scratch directory.
  if (asNobody) chmodSync(scratch, 0o755);
  // An interrupted replay leaves no scratch directory behind.
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      rmSync(scratch, { recursive: true, force: true });
      process.exit(130);
    });
  }
  const started = Date.now();
  let problems = [];
  try {
    const replay = new Replay({ context: root, dockerfile: join(root, 'Dockerfile'), buildArgs, scratch, asNobody });
    problems = staticProblems(replay.stages, packageJson);
    for (const p of problems) log(`static check: ${p}`);
    const nodeMajor = Number(process.versions.node.split('.')[0]);
    const imageMajor = Number(/^node:(\d+)/.exec(replay.stages.at(-1).image)?.[1]);
    if (nodeMajor !== imageMajor) log(`note: replaying with node ${process.version}, the image ships node ${imageMajor}: run this under node ${imageMajor} for a faithful replay (.ci/run does)`);
    try {
      replay.build();
    } catch (err) {
      problems.push(`the build failed: ${err.message}`);
      return problems;
    }
    problems.push(...devPackagesLeft(replay, packageJson, lock));
    problems.push(...(await startAndProbe(replay)));
    return problems;
  } finally {
    log(`\n== replay took ${((Date.now() - started) / 1000).toFixed(0)} s`);
    if (keep) log(`kept ${scratch}`);
    else rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const problems = await main(process.argv.slice(2));
  if (problems.length === 0) {
    console.log('\nDOCKER REPLAY PASSED: the image builds, starts, reports SERVING through its HEALTHCHECK and stops within the stop timeout');
  } else {
    console.log(`\nDOCKER REPLAY FAILED:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    process.exitCode = 1;
  }
}
