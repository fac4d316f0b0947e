/** Recognises Prisma's errors for the layers above, which never import Prisma. */

function prismaCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' && err.constructor.name.startsWith('PrismaClient')) {
    return err.code;
  }
  return undefined;
}

/** A unique constraint was violated (Prisma P2002): a concurrent writer got there first. */
export function isUniqueViolation(err: unknown): boolean {
  return prismaCode(err) === 'P2002';
}

/** The row an update or delete needed does not exist (Prisma P2025). */
export function isRecordNotFound(err: unknown): boolean {
  return prismaCode(err) === 'P2025';
}
