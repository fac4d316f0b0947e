/**
 * Tenant ids: who a row belongs to. Every agent, notification and delivery
 * carries one; single-tenant deployments and the rows from before tenants
 * existed live in {@link DEFAULT_TENANT}.
 */
import { InvalidArgumentError } from '../errors.js';

/** The tenant of callers that name none, and of every row written before tenants existed. */
export const DEFAULT_TENANT = 'default';

/** The request metadata key naming the tenant an operator token acts on. */
export const TENANT_HEADER = 'x-herald-tenant';

/**
 * Lower-case letters, digits, `_` and `-`, starting with a letter or digit,
 * at most 63 characters. No `:`: token entries (`TENANT:ROLE:TOKEN`) and
 * agent lock keys (`tenant:agent`) rely on it.
 */
const TENANT_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function isTenantId(value: string): boolean {
  return TENANT_ID.test(value);
}

/** Throws INVALID_ARGUMENT naming `field` unless `value` is a tenant id; quotes at most a short part of it. */
export function checkTenantId(field: string, value: string): void {
  if (isTenantId(value)) return;
  const shown = value.length > 20 ? `${value.slice(0, 20)}…` : value;
  throw new InvalidArgumentError(field, `${JSON.stringify(shown)} is not a tenant id: 1-63 characters of a-z, 0-9, _ and -, starting with a letter or digit`);
}
