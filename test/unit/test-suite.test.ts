import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import ts from 'typescript';

/**
 * Integration tests with no PostgreSQL twin: about the transport, not the
 * database; about files checked by an external tool (promtool); or running
 * on PostgreSQL already (the compose stack's replay).
 */
const DATABASE_FREE = ['reflection.test.ts', 'tls.test.ts', 'prometheus-rules.test.ts', 'deploy-compose.test.ts'];

const INTEGRATION = new URL('../integration/', import.meta.url);
const POSTGRES = new URL('../postgres/', import.meta.url);

/** The switch test/helpers/herald.ts reads to run on PostgreSQL, and its value there. */
const SWITCH = { variable: 'HERALD_TEST_DB', value: 'postgresql' };

test('every integration test that uses a database also runs on PostgreSQL (has a twin in test/postgres/)', () => {
  const integration = readdirSync(INTEGRATION).filter((f) => f.endsWith('.test.ts') && !DATABASE_FREE.includes(f));
  const postgres = readdirSync(POSTGRES).filter((f) => f.endsWith('.test.ts'));
  assert.deepEqual(postgres.sort(), integration.sort());
});

test('the switch the twins set makes the helper start Herald on PostgreSQL', async () => {
  // Set before the helper is first imported in this process, as a twin does.
  process.env[SWITCH.variable] = SWITCH.value;
  const { TEST_DATABASE } = await import('../helpers/herald.js');
  delete process.env[SWITCH.variable];
  assert.equal(TEST_DATABASE, 'postgresql', `test/helpers/herald.ts no longer reads ${SWITCH.variable}=${SWITCH.value}; update SWITCH here and every twin`);
});

/**
 * Why `file` (test/postgres/<name>) is not a twin of test/integration/<name>,
 * or null when it is: its statements, comments aside, are exactly the switch
 * set to PostgreSQL and then (not before: ES imports are evaluated first) an
 * `await import` of the same-named integration file.
 */
function twinProblem(name: string, source: string): string | null {
  const file = ts.createSourceFile(name, source, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const [first, second, ...rest] = file.statements;
  if (first === undefined || second === undefined || rest.length > 0) return `has ${file.statements.length} statements; a twin has two`;
  const assignment = ts.isExpressionStatement(first) && ts.isBinaryExpression(first.expression) ? first.expression : null;
  const target = assignment?.left.getText(file).replace(/\s/g, '');
  const value = assignment !== null && ts.isStringLiteral(assignment.right) ? assignment.right.text : null;
  if (assignment?.operatorToken.kind !== ts.SyntaxKind.EqualsToken || target !== `process.env.${SWITCH.variable}` || value !== SWITCH.value) {
    return `does not start with process.env.${SWITCH.variable} = '${SWITCH.value}'`;
  }
  const awaited = ts.isExpressionStatement(second) && ts.isAwaitExpression(second.expression) ? second.expression.expression : null;
  const call = awaited !== null && ts.isCallExpression(awaited) && awaited.expression.kind === ts.SyntaxKind.ImportKeyword ? awaited : null;
  const specifier = call?.arguments[0];
  const expected = `../integration/${name.replace(/\.ts$/, '.js')}`;
  if (specifier === undefined || !ts.isStringLiteral(specifier) || specifier.text !== expected) return `does not then await import('${expected}')`;
  return null;
}

test('every twin in test/postgres/ sets the PostgreSQL switch, then imports the integration test of its name', () => {
  const problems = readdirSync(POSTGRES)
    .filter((f) => f.endsWith('.test.ts'))
    .flatMap((name) => {
      const problem = twinProblem(name, readFileSync(new URL(name, POSTGRES), 'utf8'));
      return problem === null ? [] : [`test/postgres/${name} ${problem}`];
    });
  assert.deepEqual(problems, []);
});

test('the twin check refuses a file that imports another test, imports first, or never sets the switch', () => {
  const good = "// comment\nprocess.env.HERALD_TEST_DB = 'postgresql';\nawait import('../integration/x.test.js');\n";
  assert.equal(twinProblem('x.test.ts', good), null);
  assert.match(twinProblem('x.test.ts', good.replace('x.test.js', 'y.test.js')) ?? '', /await import\('\.\.\/integration\/x\.test\.js'\)/);
  assert.match(twinProblem('x.test.ts', good.replace("'postgresql'", "'sqlite'")) ?? '', /does not start with/);
  assert.match(twinProblem('x.test.ts', "await import('../integration/x.test.js');\nprocess.env.HERALD_TEST_DB = 'postgresql';\n") ?? '', /does not start with/);
  assert.match(twinProblem('x.test.ts', "import '../integration/x.test.js';\nprocess.env.HERALD_TEST_DB = 'postgresql';\n") ?? '', /does not start with/);
  assert.match(twinProblem('x.test.ts', "process.env.HERALD_TEST_DB = 'postgresql';\n") ?? '', /1 statements/);
});
