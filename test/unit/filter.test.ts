import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidArgumentError } from '../../src/errors.js';
import { checkFilter, evaluateFilter, type FilterableNotification, type FilterCondition, type FilterOperator } from '../../src/domain/filter.js';

const N: FilterableNotification = {
  notificationType: 'job.completed',
  priority: 'HIGH',
  relatedEntityType: 'job',
  relatedEntityId: null,
  metadata: {
    env: 'prod',
    count: 10,
    ratio: 2.5,
    numeric: '10',
    ok: true,
    off: false,
    nothing: null,
    build: { env: 'ci', tags: ['a'] },
    tags: ['x', 'y'],
    long: 'x'.repeat(100),
  },
};

const c = (field: string, operator: FilterOperator, ...values: string[]): FilterCondition => ({ field, operator, values });

describe('evaluateFilter: one condition against a notification', () => {
  const cases: Array<[string, FilterCondition, boolean]> = [
    // notification_type (always set)
    ['type EQUALS its type', c('notification_type', 'EQUALS', 'job.completed'), true],
    ['type EQUALS another', c('notification_type', 'EQUALS', 'job.failed'), false],
    ['type NOT_EQUALS another', c('notification_type', 'NOT_EQUALS', 'job.failed'), true],
    ['type NOT_EQUALS its type', c('notification_type', 'NOT_EQUALS', 'job.completed'), false],
    ['type IN a list with it', c('notification_type', 'IN', 'build.done', 'job.completed'), true],
    ['type IN a list without it', c('notification_type', 'IN', 'build.done', 'job.failed'), false],
    ['type PREFIX of it', c('notification_type', 'PREFIX', 'job.'), true],
    ['type PREFIX, the second value', c('notification_type', 'PREFIX', 'build.', 'job.'), true],
    ['type PREFIX not of it', c('notification_type', 'PREFIX', 'jobs.'), false],
    // priority (HIGH), by name and by rank
    ['priority EQUALS HIGH', c('priority', 'EQUALS', 'HIGH'), true],
    ['priority EQUALS NORMAL', c('priority', 'EQUALS', 'NORMAL'), false],
    ['priority NOT_EQUALS URGENT', c('priority', 'NOT_EQUALS', 'URGENT'), true],
    ['priority NOT_EQUALS HIGH', c('priority', 'NOT_EQUALS', 'HIGH'), false],
    ['priority IN [LOW, HIGH]', c('priority', 'IN', 'LOW', 'HIGH'), true],
    ['priority IN [LOW, URGENT]', c('priority', 'IN', 'LOW', 'URGENT'), false],
    ['priority GREATER_THAN NORMAL', c('priority', 'GREATER_THAN', 'NORMAL'), true],
    ['priority GREATER_THAN HIGH', c('priority', 'GREATER_THAN', 'HIGH'), false],
    ['priority GREATER_OR_EQUAL HIGH', c('priority', 'GREATER_OR_EQUAL', 'HIGH'), true],
    ['priority GREATER_OR_EQUAL URGENT', c('priority', 'GREATER_OR_EQUAL', 'URGENT'), false],
    ['priority LESS_THAN URGENT', c('priority', 'LESS_THAN', 'URGENT'), true],
    ['priority LESS_THAN HIGH', c('priority', 'LESS_THAN', 'HIGH'), false],
    ['priority LESS_OR_EQUAL HIGH', c('priority', 'LESS_OR_EQUAL', 'HIGH'), true],
    ['priority LESS_OR_EQUAL NORMAL', c('priority', 'LESS_OR_EQUAL', 'NORMAL'), false],
    // related_entity_type ("job"), related_entity_id (not set)
    ['related type EQUALS job', c('related_entity_type', 'EQUALS', 'job'), true],
    ['related type EQUALS is case-sensitive', c('related_entity_type', 'EQUALS', 'JOB'), false],
    ['related type NOT_EQUALS task', c('related_entity_type', 'NOT_EQUALS', 'task'), true],
    ['related type IN [task, job]', c('related_entity_type', 'IN', 'task', 'job'), true],
    ['related type PREFIX jo', c('related_entity_type', 'PREFIX', 'jo'), true],
    ['related type PREFIX task', c('related_entity_type', 'PREFIX', 'task'), false],
    ['related type EXISTS', c('related_entity_type', 'EXISTS'), true],
    ['unset related id EXISTS', c('related_entity_id', 'EXISTS'), false],
    ['unset related id EQUALS ""', c('related_entity_id', 'EQUALS', ''), false],
    ['unset related id NOT_EQUALS x', c('related_entity_id', 'NOT_EQUALS', 'x'), true],
    ['unset related id IN', c('related_entity_id', 'IN', 'x', ''), false],
    ['unset related id PREFIX', c('related_entity_id', 'PREFIX', 'x'), false],
    // metadata: a string
    ['string EQUALS', c('metadata.env', 'EQUALS', 'prod'), true],
    ['string EQUALS another', c('metadata.env', 'EQUALS', 'staging'), false],
    ['string NOT_EQUALS itself', c('metadata.env', 'NOT_EQUALS', 'prod'), false],
    ['string IN', c('metadata.env', 'IN', 'dev', 'prod'), true],
    ['string PREFIX', c('metadata.env', 'PREFIX', 'pr'), true],
    ['string EXISTS', c('metadata.env', 'EXISTS'), true],
    ['a string never orders', c('metadata.env', 'GREATER_THAN', '1'), false],
    ['a string that reads as a number never orders', c('metadata.numeric', 'GREATER_THAN', '9'), false],
    ['a string that reads as a number equals only its own characters', c('metadata.numeric', 'EQUALS', '10.0'), false],
    ['a string "10" EQUALS "10"', c('metadata.numeric', 'EQUALS', '10'), true],
    // metadata: a number
    ['number EQUALS its JSON number', c('metadata.count', 'EQUALS', '10'), true],
    ['number EQUALS the same value written 10.0', c('metadata.count', 'EQUALS', '10.0'), true],
    ['number EQUALS the same value written 1e1', c('metadata.count', 'EQUALS', '1e1'), true],
    ['number EQUALS text that is not a JSON number', c('metadata.count', 'EQUALS', '10 '), false],
    ['number EQUALS a word', c('metadata.count', 'EQUALS', 'ten'), false],
    ['number EQUALS with a plus sign (not JSON)', c('metadata.count', 'EQUALS', '+10'), false],
    ['fraction EQUALS', c('metadata.ratio', 'EQUALS', '2.5'), true],
    ['number NOT_EQUALS another', c('metadata.count', 'NOT_EQUALS', '11'), true],
    ['number IN', c('metadata.count', 'IN', '9', '10'), true],
    ['a number has no PREFIX', c('metadata.count', 'PREFIX', '1'), false],
    ['number GREATER_THAN less', c('metadata.count', 'GREATER_THAN', '9'), true],
    ['number GREATER_THAN itself', c('metadata.count', 'GREATER_THAN', '10'), false],
    ['number GREATER_OR_EQUAL itself', c('metadata.count', 'GREATER_OR_EQUAL', '10'), true],
    ['number LESS_THAN more', c('metadata.count', 'LESS_THAN', '10.5'), true],
    ['number LESS_THAN itself', c('metadata.count', 'LESS_THAN', '10'), false],
    ['number LESS_OR_EQUAL less', c('metadata.count', 'LESS_OR_EQUAL', '9.99'), false],
    ['number LESS_OR_EQUAL itself', c('metadata.count', 'LESS_OR_EQUAL', '10'), true],
    ['number against a negative exponent', c('metadata.ratio', 'GREATER_THAN', '25e-1'), false],
    // metadata: booleans
    ['true EQUALS "true"', c('metadata.ok', 'EQUALS', 'true'), true],
    ['true EQUALS "True"', c('metadata.ok', 'EQUALS', 'True'), false],
    ['true EQUALS "1"', c('metadata.ok', 'EQUALS', '1'), false],
    ['false EQUALS "false"', c('metadata.off', 'EQUALS', 'false'), true],
    ['false NOT_EQUALS "true"', c('metadata.off', 'NOT_EQUALS', 'true'), true],
    ['a boolean never orders', c('metadata.ok', 'GREATER_THAN', '0'), false],
    // metadata: null is as missing
    ['null EXISTS', c('metadata.nothing', 'EXISTS'), false],
    ['null EQUALS "null"', c('metadata.nothing', 'EQUALS', 'null'), false],
    ['null NOT_EQUALS x', c('metadata.nothing', 'NOT_EQUALS', 'x'), true],
    // metadata: objects and arrays satisfy only EXISTS (and NOT_EQUALS, the negation of EQUALS)
    ['object EXISTS', c('metadata.build', 'EXISTS'), true],
    ['object EQUALS its string form', c('metadata.build', 'EQUALS', '[object Object]'), false],
    ['object NOT_EQUALS', c('metadata.build', 'NOT_EQUALS', 'x'), true],
    ['object PREFIX', c('metadata.build', 'PREFIX', '{'), false],
    ['object GREATER_THAN', c('metadata.build', 'GREATER_THAN', '0'), false],
    ['array EXISTS', c('metadata.tags', 'EXISTS'), true],
    ['array IN is not "contains"', c('metadata.tags', 'IN', 'x'), false],
    ['array EQUALS its joined form', c('metadata.tags', 'EQUALS', 'x,y'), false],
    // metadata paths
    ['nested key EQUALS', c('metadata.build.env', 'EQUALS', 'ci'), true],
    ['nested missing key EXISTS', c('metadata.build.missing', 'EXISTS'), false],
    ['arrays are not indexed', c('metadata.build.tags.0', 'EXISTS'), false],
    ['a path through a string finds nothing', c('metadata.env.length', 'EXISTS'), false],
    // metadata: missing
    ['missing EQUALS', c('metadata.absent', 'EQUALS', 'x'), false],
    ['missing NOT_EQUALS holds', c('metadata.absent', 'NOT_EQUALS', 'x'), true],
    ['missing IN', c('metadata.absent', 'IN', 'x', 'y'), false],
    ['missing PREFIX', c('metadata.absent', 'PREFIX', 'x'), false],
    ['missing EXISTS', c('metadata.absent', 'EXISTS'), false],
    ['missing GREATER_THAN', c('metadata.absent', 'GREATER_THAN', '0'), false],
    ['missing GREATER_OR_EQUAL', c('metadata.absent', 'GREATER_OR_EQUAL', '0'), false],
    ['missing LESS_THAN', c('metadata.absent', 'LESS_THAN', '0'), false],
    ['missing LESS_OR_EQUAL', c('metadata.absent', 'LESS_OR_EQUAL', '0'), false],
    // only own keys: nothing inherited from Object.prototype
    ['metadata.constructor is missing', c('metadata.constructor', 'EXISTS'), false],
    ['metadata.toString is missing', c('metadata.toString', 'EXISTS'), false],
    ['metadata.__proto__ is missing', c('metadata.__proto__', 'EXISTS'), false],
    ['metadata.hasOwnProperty is missing', c('metadata.hasOwnProperty', 'NOT_EQUALS', 'x'), true],
  ];
  for (const [name, condition, holds] of cases) {
    test(`${name} → ${holds ? 'holds' : 'does not hold'}`, () => {
      const miss = evaluateFilter([condition], N);
      assert.equal(miss === null, holds, miss?.explanation);
    });
  }
});

describe('evaluateFilter: a whole filter', () => {
  test('an empty filter holds', () => assert.equal(evaluateFilter([], N), null));

  test('every condition must hold; the first that does not is named', () => {
    const filter = [c('priority', 'GREATER_OR_EQUAL', 'HIGH'), c('metadata.env', 'EQUALS', 'staging'), c('metadata.absent', 'EXISTS')];
    const miss = evaluateFilter(filter, N);
    assert.equal(miss?.index, 1);
    assert.equal(miss?.condition, filter[1]);
    assert.equal(evaluateFilter(filter.slice(0, 1), N), null);
  });

  test('a field Herald does not know (stored by a later version) does not hold', () => {
    const miss = evaluateFilter([c('title', 'EXISTS')], N);
    assert.equal(miss?.explanation, 'filter[0] does not hold: title EXISTS, but title is not a field a filter can test');
  });

  const explained: Array<[string, FilterCondition, string]> = [
    ['a string', c('metadata.env', 'EQUALS', 'staging'), 'filter[0] does not hold: metadata.env EQUALS "staging", but metadata.env is "prod"'],
    ['a missing key', c('metadata.absent', 'EXISTS'), 'filter[0] does not hold: metadata.absent EXISTS, but metadata.absent is missing'],
    ['an unset field', c('related_entity_id', 'EXISTS'), 'filter[0] does not hold: related_entity_id EXISTS, but related_entity_id is not set'],
    ['a priority', c('priority', 'GREATER_OR_EQUAL', 'URGENT'), 'filter[0] does not hold: priority GREATER_OR_EQUAL "URGENT", but priority is HIGH'],
    ['a number', c('metadata.count', 'LESS_THAN', '5'), 'filter[0] does not hold: metadata.count LESS_THAN "5", but metadata.count is 10'],
    ['a boolean', c('metadata.ok', 'EQUALS', 'false'), 'filter[0] does not hold: metadata.ok EQUALS "false", but metadata.ok is true'],
    ['an object', c('metadata.build', 'EQUALS', 'x'), 'filter[0] does not hold: metadata.build EQUALS "x", but metadata.build is an object'],
    ['an array', c('metadata.tags', 'IN', 'x'), 'filter[0] does not hold: metadata.tags IN ["x"], but metadata.tags is an array'],
    [
      'many values, five shown',
      c('notification_type', 'IN', 'a', 'b', 'c', 'd', 'e', 'f', 'g'),
      'filter[0] does not hold: notification_type IN ["a", "b", "c", "d", "e", … (7 values)], but notification_type is "job.completed"',
    ],
    [
      'long strings cut',
      c('metadata.long', 'EQUALS', 'y'.repeat(60)),
      `filter[0] does not hold: metadata.long EQUALS "${'y'.repeat(40)}…" (60 characters), but metadata.long is "${'x'.repeat(40)}…" (100 characters)`,
    ],
  ];
  for (const [name, condition, explanation] of explained) {
    test(`a miss on ${name} is explained`, () => assert.equal(evaluateFilter([condition], N)?.explanation, explanation));
  }
});

describe('checkFilter', () => {
  test('accepts every operator on the fields it applies to', () => {
    const valid: FilterCondition[] = [
      c('notification_type', 'PREFIX', 'job.', 'build.'),
      c('priority', 'GREATER_OR_EQUAL', 'HIGH'),
      c('related_entity_id', 'EXISTS'),
      c('metadata.build.env', 'IN', 'ci', 'prod'),
      c('metadata.count', 'LESS_OR_EQUAL', '-2.5e3'),
      c('metadata.a-b_C.9', 'NOT_EQUALS', ''),
      c(`metadata.${Array.from({ length: 8 }, () => 'k'.repeat(64)).join('.')}`, 'EXISTS'),
      c('metadata.x', 'IN', ...Array.from({ length: 50 }, (_, i) => String(i))),
      c('metadata.x', 'EQUALS', 'v'.repeat(256)),
    ];
    checkFilter('endpoint.filter', valid);
    checkFilter('endpoint.filter', Array.from({ length: 10 }, () => c('priority', 'EQUALS', 'LOW')));
  });

  const at = (i: number, ...rest: FilterCondition[]): FilterCondition[] => [...Array.from({ length: i }, () => c('priority', 'EQUALS', 'LOW')), ...rest];
  const cases: Array<[string, FilterCondition[], string]> = [
    ['too many conditions', Array.from({ length: 11 }, () => c('priority', 'EQUALS', 'LOW')), 'endpoint.filter: must have at most 10 conditions, got 11'],
    [
      'no field',
      [c('', 'EXISTS')],
      'endpoint.filter[0].field: is required: notification_type, priority, related_entity_type, related_entity_id or metadata.<path> (e.g. metadata.env)',
    ],
    [
      'an unknown field',
      at(1, c('title', 'EQUALS', 'x')),
      'endpoint.filter[1].field: "title" is not a field a filter can test; use notification_type, priority, related_entity_type, related_entity_id or metadata.<path> (e.g. metadata.env)',
    ],
    ['metadata without a path', [c('metadata', 'EXISTS')], 'endpoint.filter[0].field: "metadata" is not a field a filter can test; name a key: metadata.<path>, e.g. metadata.env'],
    ['metadata with an empty path', [c('metadata.', 'EXISTS')], 'endpoint.filter[0].field: segment 1 of the metadata path, "", must be 1-64 characters of A-Z, a-z, 0-9, _ and -'],
    ['an empty segment', [c('metadata.a..b', 'EXISTS')], 'endpoint.filter[0].field: segment 2 of the metadata path, "", must be 1-64 characters of A-Z, a-z, 0-9, _ and -'],
    ['a segment with a space', [c('metadata.a b', 'EXISTS')], 'endpoint.filter[0].field: segment 1 of the metadata path, "a b", must be 1-64 characters of A-Z, a-z, 0-9, _ and -'],
    ['a segment of 65 characters', [c(`metadata.${'k'.repeat(65)}`, 'EXISTS')], `endpoint.filter[0].field: segment 1 of the metadata path, "${'k'.repeat(60)}…" (65 characters), must be 1-64 characters of A-Z, a-z, 0-9, _ and -`],
    ['a path too deep', [c('metadata.a.b.c.d.e.f.g.h.i', 'EXISTS')], 'endpoint.filter[0].field: a metadata path has at most 8 segments after "metadata.", got 9'],
    ['a long unknown field is quoted short', [c('x'.repeat(500), 'EXISTS')], `endpoint.filter[0].field: "${'x'.repeat(60)}…" (500 characters) is not a field a filter can test; use notification_type, priority, related_entity_type, related_entity_id or metadata.<path> (e.g. metadata.env)`],
    ['no operator', [{ field: 'priority', operator: 'UNSPECIFIED' as FilterOperator, values: [] }], 'endpoint.filter[0].operator: is required: one of EQUALS, NOT_EQUALS, IN, PREFIX, EXISTS, GREATER_THAN, GREATER_OR_EQUAL, LESS_THAN, LESS_OR_EQUAL'],
    ['PREFIX on priority', [c('priority', 'PREFIX', 'H')], 'endpoint.filter[0].operator: PREFIX does not apply to priority; use EQUALS, NOT_EQUALS, IN, GREATER_THAN, GREATER_OR_EQUAL, LESS_THAN, LESS_OR_EQUAL'],
    ['EXISTS on priority', [c('priority', 'EXISTS')], 'endpoint.filter[0].operator: EXISTS does not apply to priority; use EQUALS, NOT_EQUALS, IN, GREATER_THAN, GREATER_OR_EQUAL, LESS_THAN, LESS_OR_EQUAL'],
    ['EXISTS on notification_type (always set)', [c('notification_type', 'EXISTS')], 'endpoint.filter[0].operator: EXISTS does not apply to notification_type; use EQUALS, NOT_EQUALS, IN, PREFIX'],
    ['an ordering on notification_type', [c('notification_type', 'LESS_THAN', 'a')], 'endpoint.filter[0].operator: LESS_THAN does not apply to notification_type; use EQUALS, NOT_EQUALS, IN, PREFIX'],
    ['an ordering on related_entity_id', [c('related_entity_id', 'GREATER_THAN', '5')], 'endpoint.filter[0].operator: GREATER_THAN does not apply to related_entity_id; use EQUALS, NOT_EQUALS, IN, PREFIX, EXISTS'],
    ['EXISTS with a value', [c('metadata.x', 'EXISTS', 'y')], 'endpoint.filter[0].values: EXISTS takes no values, got 1'],
    ['EQUALS without a value', [c('metadata.x', 'EQUALS')], 'endpoint.filter[0].values: EQUALS takes exactly one value, got 0'],
    ['NOT_EQUALS with two values', [c('metadata.x', 'NOT_EQUALS', 'a', 'b')], 'endpoint.filter[0].values: NOT_EQUALS takes exactly one value, got 2'],
    ['an ordering with two values', [c('metadata.x', 'GREATER_THAN', '1', '2')], 'endpoint.filter[0].values: GREATER_THAN takes exactly one value, got 2'],
    ['IN without values', [c('metadata.x', 'IN')], 'endpoint.filter[0].values: IN takes 1 to 50 values, got 0'],
    ['IN with 51 values', [c('metadata.x', 'IN', ...Array.from({ length: 51 }, (_, i) => String(i)))], 'endpoint.filter[0].values: IN takes 1 to 50 values, got 51'],
    ['PREFIX with 51 values', [c('metadata.x', 'PREFIX', ...Array.from({ length: 51 }, (_, i) => `p${i}`))], 'endpoint.filter[0].values: PREFIX takes 1 to 50 values, got 51'],
    ['not a priority', at(2, c('priority', 'EQUALS', 'HUGE')), 'endpoint.filter[2].values[0]: "HUGE" is not a priority; use LOW, NORMAL, HIGH or URGENT'],
    ['a priority in lower case', [c('priority', 'IN', 'HIGH', 'urgent')], 'endpoint.filter[0].values[1]: "urgent" is not a priority; use LOW, NORMAL, HIGH or URGENT'],
    ['a long bad priority is quoted short', [c('priority', 'EQUALS', 'Z'.repeat(100))], `endpoint.filter[0].values[0]: "${'Z'.repeat(40)}…" (100 characters) is not a priority; use LOW, NORMAL, HIGH or URGENT`],
    ['a type value no type can have', [c('notification_type', 'EQUALS', 'Job.Done')], 'endpoint.filter[0].values[0]: must be 1-100 characters of a-z, 0-9, _ . -'],
    ['an empty type prefix', [c('notification_type', 'PREFIX', '')], 'endpoint.filter[0].values[0]: is required'],
    ['an ordering on metadata against a word', [c('metadata.count', 'GREATER_THAN', 'ten')], 'endpoint.filter[0].values[0]: "ten" is not a number; GREATER_THAN on metadata compares numbers, e.g. "10" or "2.5"'],
    ['an ordering against a number out of range', [c('metadata.count', 'LESS_THAN', '1e999')], 'endpoint.filter[0].values[0]: "1e999" is not a number; LESS_THAN on metadata compares numbers, e.g. "10" or "2.5"'],
    ['an ordering against a number with spaces', [c('metadata.count', 'LESS_OR_EQUAL', ' 5')], 'endpoint.filter[0].values[0]: " 5" is not a number; LESS_OR_EQUAL on metadata compares numbers, e.g. "10" or "2.5"'],
    ['an empty metadata prefix', [c('metadata.env', 'PREFIX', 'p', '')], 'endpoint.filter[0].values[1]: is empty: an empty prefix matches every string; use EXISTS'],
    ['a value too long', [c('metadata.env', 'EQUALS', 'v'.repeat(257))], 'endpoint.filter[0].values[0]: must be at most 256 characters, got 257'],
  ];
  for (const [name, filter, message] of cases) {
    test(`refuses ${name}, naming the condition`, () => {
      assert.throws(
        () => checkFilter('endpoint.filter', filter),
        (err: unknown) => err instanceof InvalidArgumentError && err.message === message,
      );
    });
  }
});
