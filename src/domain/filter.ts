/**
 * An endpoint's filter: conditions on a notification's fields, all of which
 * must hold for the endpoint to get its webhook. Pure: validation on write
 * ({@link checkFilter}) and evaluation on create ({@link evaluateFilter}).
 *
 * ## Fields
 *
 * | field                                       | holds                        | operators                                      |
 * |---------------------------------------------|------------------------------|------------------------------------------------|
 * | `notification_type`                         | the type, always set         | EQUALS, NOT_EQUALS, IN, PREFIX                 |
 * | `priority`                                  | LOW, NORMAL, HIGH or URGENT  | EQUALS, NOT_EQUALS, IN and the four orderings  |
 * | `related_entity_type`, `related_entity_id`  | a string, or not set         | EQUALS, NOT_EQUALS, IN, PREFIX, EXISTS         |
 * | `metadata.<path>`                           | any JSON value, or missing   | all nine                                       |
 *
 * A metadata path is 1 to {@link LIMITS}.filterPathDepth dot-separated
 * segments of 1 to 64 characters of `A-Z a-z 0-9 _ -`, each naming a key of
 * an object (`metadata.build.env` reads `{"build": {"env": …}}`). Arrays are
 * not indexed: a path through an array finds nothing, and keys holding other
 * characters (a dot, a space) cannot be named. Only the object's own keys are
 * read, so `metadata.constructor` finds nothing in `{}`.
 *
 * ## How a value compares with a condition's values (strings, as written)
 *
 * - a string equals a value of the same characters (case matters);
 * - a number equals a value written as a JSON number of the same value
 *   (`10`, `10.0`, `1e1` all equal 10; `"10"` stored as a string equals only `10`);
 * - a boolean equals `true` or `false`;
 * - a priority equals its name, and orders LOW < NORMAL < HIGH < URGENT;
 * - the orderings hold only for numbers (metadata) and priorities, against
 *   a value that is a number (or a priority name): a string never orders,
 *   even one that reads as a number;
 * - PREFIX holds only for a string starting with one of the values;
 * - an object or an array equals nothing and orders nothing: only EXISTS
 *   (and NOT_EQUALS, below) holds for it;
 * - a field that is missing, not set or JSON `null` fails every operator
 *   but NOT_EQUALS.
 *
 * NOT_EQUALS is exactly "not EQUALS", so it holds for a missing field, an
 * object, or a value of another type: `metadata.env NOT_EQUALS "prod"` lets
 * through every notification that is not known to be for prod. Combine it
 * with EXISTS to require the field.
 *
 * ## How many values
 *
 * EXISTS takes none; EQUALS, NOT_EQUALS and the orderings exactly one; IN
 * (equals one of them) and PREFIX (starts with one of them) 1 to
 * {@link LIMITS}.filterValues. A filter has at most {@link LIMITS}.filterConditions conditions.
 */
import { InvalidArgumentError } from '../errors.js';
import { PRIORITIES, PRIORITY_RANK } from './types.js';
import type { JsonObject, JsonValue, NotificationInput } from './types.js';
import { charLength, checkNotificationType, LIMITS, quote } from './validation.js';

const ORDERINGS = ['GREATER_THAN', 'GREATER_OR_EQUAL', 'LESS_THAN', 'LESS_OR_EQUAL'] as const;

/** Every operator of a filter condition; the proto's FilterOperator names without their prefix. */
export const FILTER_OPERATORS = ['EQUALS', 'NOT_EQUALS', 'IN', 'PREFIX', 'EXISTS', ...ORDERINGS] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];

/** One condition of a filter: `field operator values`, e.g. `metadata.env IN ["prod", "staging"]`. */
export interface FilterCondition {
  /** `notification_type`, `priority`, `related_entity_type`, `related_entity_id`, or `metadata.<path>`. */
  readonly field: string;
  readonly operator: FilterOperator;
  /** Strings as the caller wrote them: priority names, or JSON numbers for the orderings on metadata. */
  readonly values: readonly string[];
}

/** The fields of a notification a filter reads. */
export type FilterableNotification = Pick<NotificationInput, 'notificationType' | 'priority' | 'relatedEntityType' | 'relatedEntityId' | 'metadata'>;

/** The first condition of a filter that does not hold, for the decision's explanation. */
export interface FilterMiss {
  /** Its position in the filter, 0-based. */
  readonly index: number;
  readonly condition: FilterCondition;
  /** For people, e.g. `filter[1] does not hold: metadata.env EQUALS "prod", but metadata.env is "staging"`. */
  readonly explanation: string;
}

type FieldKind = 'type' | 'priority' | 'related' | 'metadata';

/** The one table of which operator applies to which field. */
const OPERATORS_FOR: Readonly<Record<FieldKind, readonly FilterOperator[]>> = {
  type: ['EQUALS', 'NOT_EQUALS', 'IN', 'PREFIX'],
  priority: ['EQUALS', 'NOT_EQUALS', 'IN', ...ORDERINGS],
  related: ['EQUALS', 'NOT_EQUALS', 'IN', 'PREFIX', 'EXISTS'],
  metadata: FILTER_OPERATORS,
};

const FIELD_KINDS: Readonly<Record<string, FieldKind>> = {
  notification_type: 'type',
  priority: 'priority',
  related_entity_type: 'related',
  related_entity_id: 'related',
};

const METADATA = 'metadata.';
const PATH_SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const FIELD_LIST = 'notification_type, priority, related_entity_type, related_entity_id or metadata.<path> (e.g. metadata.env)';

function kindOf(field: string): FieldKind | undefined {
  return Object.hasOwn(FIELD_KINDS, field) ? FIELD_KINDS[field] : field.startsWith(METADATA) ? 'metadata' : undefined;
}

/** A value written as a JSON number, or undefined. */
function parseNumber(value: string): number | undefined {
  if (!JSON_NUMBER.test(value)) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

function priorityRank(value: string): number | undefined {
  return (PRIORITIES as readonly string[]).includes(value) ? PRIORITY_RANK[value as (typeof PRIORITIES)[number]] : undefined;
}

/** How many values `operator` takes, as [min, max]. */
function arity(operator: FilterOperator): readonly [number, number] {
  if (operator === 'EXISTS') return [0, 0];
  if (operator === 'IN' || operator === 'PREFIX') return [1, LIMITS.filterValues];
  return [1, 1];
}

/** What `field` holds in `n`: undefined when missing, not set or JSON null. */
function read(field: string, kind: FieldKind, n: FilterableNotification): JsonValue | undefined {
  switch (kind) {
    case 'type':
      return n.notificationType;
    case 'priority':
      return n.priority;
    case 'related':
      return (field === 'related_entity_type' ? n.relatedEntityType : n.relatedEntityId) ?? undefined;
    case 'metadata':
      return readPath(n.metadata, field.slice(METADATA.length).split('.'));
  }
}

function readPath(metadata: JsonObject, segments: readonly string[]): JsonValue | undefined {
  let at: JsonValue | undefined = metadata;
  for (const segment of segments) {
    if (typeof at !== 'object' || at === null || Array.isArray(at) || !Object.hasOwn(at, segment)) return undefined;
    at = at[segment];
  }
  return at ?? undefined;
}

/** EQUALS, by the rules in the module comment. */
function equals(actual: JsonValue | undefined, value: string): boolean {
  switch (typeof actual) {
    case 'string':
      return actual === value;
    case 'number':
      return parseNumber(value) === actual;
    case 'boolean':
      return value === String(actual);
    default:
      return false;
  }
}

/** What an ordering compares the field by: a priority's rank, or a number; undefined for anything else (a string never orders). */
function fieldOrdinal(kind: FieldKind, actual: JsonValue | undefined): number | undefined {
  if (kind === 'priority') return typeof actual === 'string' ? priorityRank(actual) : undefined;
  return typeof actual === 'number' ? actual : undefined;
}

/** What an ordering compares the condition's value by: a priority's rank, or the JSON number it spells. */
function valueOrdinal(kind: FieldKind, value: string): number | undefined {
  return kind === 'priority' ? priorityRank(value) : parseNumber(value);
}

function holds(c: FilterCondition, kind: FieldKind, actual: JsonValue | undefined): boolean {
  switch (c.operator) {
    case 'EXISTS':
      return actual !== undefined;
    case 'EQUALS':
      return equals(actual, c.values[0] ?? '');
    case 'NOT_EQUALS':
      return !equals(actual, c.values[0] ?? '');
    case 'IN':
      return c.values.some((v) => equals(actual, v));
    case 'PREFIX':
      return typeof actual === 'string' && c.values.some((v) => actual.startsWith(v));
    default: {
      const a = fieldOrdinal(kind, actual);
      const b = valueOrdinal(kind, c.values[0] ?? '');
      if (a === undefined || b === undefined) return false;
      switch (c.operator) {
        case 'GREATER_THAN':
          return a > b;
        case 'GREATER_OR_EQUAL':
          return a >= b;
        case 'LESS_THAN':
          return a < b;
        case 'LESS_OR_EQUAL':
          return a <= b;
      }
    }
  }
}

/**
 * Whether every condition of `filter` holds for `n` (an empty filter always
 * does). Returns null when they all hold, else the first that does not, with
 * an explanation. A condition on a field Herald does not know (one stored by
 * a later version) does not hold: the endpoint gets nothing rather than too much.
 */
export function evaluateFilter(filter: readonly FilterCondition[], n: FilterableNotification): FilterMiss | null {
  for (const [index, condition] of filter.entries()) {
    const kind = kindOf(condition.field);
    const actual = kind === undefined ? undefined : read(condition.field, kind, n);
    if (kind !== undefined && holds(condition, kind, actual)) continue;
    const found = kind === undefined ? 'is not a field a filter can test' : describeValue(kind, actual);
    return { index, condition, explanation: `filter[${index}] does not hold: ${describeCondition(condition)}, but ${condition.field} ${found}` };
  }
  return null;
}

const SHOWN_VALUES = 5;
const SHOWN_CHARACTERS = 40;

/** `metadata.env IN ["prod", "staging"]`, at most five values and 40 characters of each shown. */
function describeCondition(c: FilterCondition): string {
  const head = `${c.field.length > 80 ? quote(c.field, 80) : c.field} ${c.operator}`;
  if (c.values.length === 0) return head;
  if (c.values.length === 1 && c.operator !== 'IN' && c.operator !== 'PREFIX') return `${head} ${quote(c.values[0] ?? '', SHOWN_CHARACTERS)}`;
  const shown = c.values.slice(0, SHOWN_VALUES).map((v) => quote(v, SHOWN_CHARACTERS));
  const more = c.values.length > SHOWN_VALUES ? `, … (${c.values.length} values)` : '';
  return `${head} [${shown.join(', ')}${more}]`;
}

function describeValue(kind: FieldKind, actual: JsonValue | undefined): string {
  if (actual === undefined) return kind === 'metadata' ? 'is missing' : 'is not set';
  if (typeof actual === 'string') return kind === 'priority' ? `is ${actual}` : `is ${quote(actual, SHOWN_CHARACTERS)}`;
  if (typeof actual === 'number' || typeof actual === 'boolean') return `is ${String(actual)}`;
  return Array.isArray(actual) ? 'is an array' : 'is an object';
}

/**
 * Refuses a filter that breaks a rule of the module comment, naming the
 * condition and its part: `${field}[2].values[0]: "HUGE" is not a priority;
 * use LOW, NORMAL, HIGH or URGENT`. `field` is the filter's proto path, e.g.
 * `endpoint.filter`.
 */
export function checkFilter(field: string, filter: readonly FilterCondition[]): void {
  if (filter.length > LIMITS.filterConditions) {
    throw new InvalidArgumentError(field, `must have at most ${LIMITS.filterConditions} conditions, got ${filter.length}`);
  }
  filter.forEach((c, i) => checkCondition(`${field}[${i}]`, c));
}

function checkCondition(at: string, c: FilterCondition): void {
  const kind = checkField(`${at}.field`, c.field);
  if (!(FILTER_OPERATORS as readonly string[]).includes(c.operator)) {
    throw new InvalidArgumentError(`${at}.operator`, `is required: one of ${FILTER_OPERATORS.join(', ')}`);
  }
  const allowed = OPERATORS_FOR[kind];
  if (!allowed.includes(c.operator)) {
    const subject = kind === 'metadata' ? 'metadata' : c.field;
    throw new InvalidArgumentError(`${at}.operator`, `${c.operator} does not apply to ${subject}; use ${allowed.join(', ')}`);
  }
  const [min, max] = arity(c.operator);
  if (c.values.length < min || c.values.length > max) {
    const wanted = max === 0 ? 'takes no values' : min === max ? 'takes exactly one value' : `takes 1 to ${max} values`;
    throw new InvalidArgumentError(`${at}.values`, `${c.operator} ${wanted}, got ${c.values.length}`);
  }
  c.values.forEach((v, j) => checkValue(`${at}.values[${j}]`, kind, c.operator, v));
}

function checkField(at: string, field: string): FieldKind {
  if (field === '') throw new InvalidArgumentError(at, `is required: ${FIELD_LIST}`);
  const kind = kindOf(field);
  if (kind === undefined) {
    const hint = field === 'metadata' ? 'name a key: metadata.<path>, e.g. metadata.env' : `use ${FIELD_LIST}`;
    throw new InvalidArgumentError(at, `${quote(field, 60)} is not a field a filter can test; ${hint}`);
  }
  if (kind !== 'metadata') return kind;
  const segments = field.slice(METADATA.length).split('.');
  if (segments.length > LIMITS.filterPathDepth) {
    throw new InvalidArgumentError(at, `a metadata path has at most ${LIMITS.filterPathDepth} segments after "metadata.", got ${segments.length}`);
  }
  const bad = segments.findIndex((s) => !PATH_SEGMENT.test(s));
  if (bad !== -1) {
    throw new InvalidArgumentError(at, `segment ${bad + 1} of the metadata path, ${quote(segments[bad] ?? '', 60)}, must be 1-64 characters of A-Z, a-z, 0-9, _ and -`);
  }
  return kind;
}

function checkValue(at: string, kind: FieldKind, operator: FilterOperator, value: string): void {
  const n = charLength(value);
  if (n > LIMITS.filterValueLength) throw new InvalidArgumentError(at, `must be at most ${LIMITS.filterValueLength} characters, got ${n}`);
  if (kind === 'priority') {
    if (priorityRank(value) === undefined) throw new InvalidArgumentError(at, `${quote(value, SHOWN_CHARACTERS)} is not a priority; use LOW, NORMAL, HIGH or URGENT`);
    return;
  }
  // A type can never match a value outside the types' alphabet (they are lower case).
  if (kind === 'type') return checkNotificationType(at, value);
  if (operator === 'PREFIX' && value === '') throw new InvalidArgumentError(at, 'is empty: an empty prefix matches every string; use EXISTS');
  if ((ORDERINGS as readonly string[]).includes(operator) && parseNumber(value) === undefined) {
    throw new InvalidArgumentError(at, `${quote(value, SHOWN_CHARACTERS)} is not a number; ${operator} on metadata compares numbers, e.g. "10" or "2.5"`);
  }
}
