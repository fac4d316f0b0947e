/**
 * A table described once: each field's column name and type. From that one
 * description come the column lists of raw statements, the decoder of raw
 * rows (which the drivers give with column names and loosely typed values)
 * and the multi-row INSERT. The row type is Prisma's generated model type,
 * so a column added to the schema without its entry in the row map is a
 * compile error, and both Prisma's typed calls and raw SQL hand back the
 * same `Row`, which one mapping per table turns into the domain type.
 */
import { Prisma } from '../sql.js';

type Kind = 'text' | 'int' | 'real' | 'bool' | 'timestamp';

/** One column: its SQL name, its kind, whether it holds NULL. `T` is the field's type in the row. */
export interface Column<T> {
  readonly name: string;
  readonly kind: Kind;
  readonly nullable: boolean;
  /** Phantom, never set: ties the column to exactly its field's type (invariant, so a nullable field cannot get a NOT NULL column). */
  readonly _type?: (value: T) => T;
}

function column<T>(kind: Kind, nullable: boolean) {
  return (name: string): Column<T> => ({ name, kind, nullable });
}

export const text = column<string>('text', false);
export const textOrNull = column<string | null>('text', true);
export const int = column<number>('int', false);
export const intOrNull = column<number | null>('int', true);
export const realOrNull = column<number | null>('real', true);
export const bool = column<boolean>('bool', false);
export const timestamp = column<Date>('timestamp', false);
export const timestampOrNull = column<Date | null>('timestamp', true);

/** The column description of every field of `Row`, and of nothing else. */
export type Columns<Row> = { readonly [K in keyof Row]-?: Column<Row[K]> };

/**
 * A raw value as the drivers return it: SQLite gives integers (or BigInt
 * for aggregates) for booleans and ISO text for instants it cannot type;
 * PostgreSQL gives what the column's type says.
 */
function decodeValue(kind: Kind, nullable: boolean, raw: unknown, where: string): unknown {
  if (raw === null || raw === undefined) {
    if (nullable) return null;
    throw new Error(`${where}: NULL in a NOT NULL column`);
  }
  switch (kind) {
    case 'text':
      return typeof raw === 'string' ? raw : String(raw);
    case 'int':
    case 'real':
      return typeof raw === 'number' ? raw : Number(raw);
    case 'bool':
      return raw === true || raw === 1 || raw === 1n || raw === '1' || raw === 't' || raw === 'true';
    case 'timestamp':
      return raw instanceof Date ? raw : new Date(typeof raw === 'string' && /^\d{4}-\d\d-\d\d \d/.test(raw) ? `${raw.replace(' ', 'T')}Z` : (raw as string | number));
  }
}

export class Table<Row extends object> {
  private readonly fields: ReadonlyArray<keyof Row & string>;

  constructor(
    /** The SQL table name. */
    readonly name: string,
    readonly columns: Columns<Row>,
  ) {
    this.fields = Object.keys(columns) as Array<keyof Row & string>;
  }

  /** The SQL name of a field's column. */
  column(field: keyof Row & string): string {
    return this.columns[field].name;
  }

  /** The column list of every field but `except`, for a SELECT or RETURNING; prefixed with `alias.` when given. */
  list(except: ReadonlyArray<keyof Row & string> = [], alias?: string): Prisma.Sql {
    const prefix = alias === undefined ? '' : `${alias}.`;
    return Prisma.raw(this.fields.filter((f) => !except.includes(f)).map((f) => `${prefix}"${this.columns[f].name}"`).join(', '));
  }

  /** A raw row (column names) as a `Row`. */
  decode(raw: Record<string, unknown>): Row;
  /** A raw row without the fields `except` (a RETURNING that left them out). */
  decode<K extends keyof Row & string>(raw: Record<string, unknown>, except: readonly K[]): Omit<Row, K>;
  decode(raw: Record<string, unknown>, except: readonly string[] = []): Row {
    const row: Partial<Record<keyof Row, unknown>> = {};
    for (const f of this.fields) {
      if (except.includes(f)) continue;
      const c = this.columns[f];
      row[f] = decodeValue(c.kind, c.nullable, raw[c.name], `${this.name}.${c.name}`);
    }
    // Every field not in `except` was set above; the overloads say which are missing.
    return row as Row;
  }

  /** One field of a raw row (a SELECT of a few columns). */
  field<K extends keyof Row & string>(raw: Record<string, unknown>, field: K): Row[K] {
    const c = this.columns[field];
    return decodeValue(c.kind, c.nullable, raw[c.name], `${this.name}.${c.name}`) as Row[K];
  }

  /**
   * One INSERT of whole rows (every column, so a new column cannot be
   * forgotten). Values are bound: Dates as Dates, which the driver adapters
   * store as Prisma's own writes do (ISO 8601 text on SQLite, timestamp on
   * PostgreSQL). Names come from the row map, never from input.
   */
  insert(rows: readonly Row[], suffix: Prisma.Sql = Prisma.empty): Prisma.Sql {
    if (rows.length === 0) throw new Error(`${this.name}: an INSERT needs at least one row`);
    const names = this.fields.map((f) => `"${this.columns[f].name}"`).join(', ');
    const values = rows.map((row) => Prisma.sql`(${Prisma.join(this.fields.map((f) => row[f]))})`);
    return Prisma.sql`INSERT INTO ${Prisma.raw(`"${this.name}" (${names})`)} VALUES ${Prisma.join(values)} ${suffix}`;
  }
}
