import { Prisma } from '../../../../generated/prisma/client.js';

/**
 * When `error` means the database cannot be used right now (Prisma's P1xxx connection codes,
 * P2024 pool timeout, or a failed initialisation), a one-line reason such as
 * "P1001: Can't reach database server at …"; otherwise null.
 */
export function databaseUnavailableReason(error: unknown): string | null {
  const lastLine = (message: string) => message.trim().split('\n').at(-1) ?? '';
  if (
    error instanceof Prisma.PrismaClientKnownRequestError &&
    (error.code.startsWith('P1') || error.code === 'P2024')
  ) {
    return `${error.code}: ${lastLine(error.message)}`;
  }
  if (error instanceof Prisma.PrismaClientInitializationError) {
    return `${error.errorCode ?? 'initialisation'}: ${lastLine(error.message)}`;
  }
  return null;
}
