// The bank workload's invariant: transfers move money between accounts but never create or
// destroy it, and never overdraw. Every snapshot read must therefore show the same total with no
// negative balance, whatever transfers were in flight when it was taken.
import type { Operation } from './history.js';

export interface BankTransfer {
  kind: 'transfer';
  from: string;
  to: string;
  amount: number;
}

export interface BankRead {
  kind: 'read';
}

export type BankInput = BankTransfer | BankRead;

/** A transfer returns `'ok'` or `'insufficient'`; a read returns a snapshot of every balance. */
export type BankOutput = 'ok' | 'insufficient' | Readonly<Record<string, number>>;

export type BankOperation = Operation<BankInput, BankOutput>;

export interface BankCheckOptions {
  /** Every account the snapshot must contain, and the only ones it may contain. */
  accounts: readonly string[];
  /** The sum of all balances, which transfers conserve. Compared exactly: use integer units. */
  total: number;
}

export type BankResult =
  | { ok: true; readsChecked: number }
  | { ok: false; reason: string; operation: BankOperation };

/** Checks every completed read of the history; reads with an unknown outcome saw nothing. */
export function checkBank(history: readonly BankOperation[], options: BankCheckOptions): BankResult {
  const accounts = new Set(options.accounts);
  // Reports the earliest violating read, which is the one closest to whatever caused it.
  const reads = history
    .filter((operation) => operation.input.kind === 'read' && operation.output !== undefined)
    .sort((a, b) => a.call - b.call || a.return - b.return);

  for (const operation of reads) {
    const violation = snapshotViolation(operation.output, accounts, options.total);
    if (violation !== undefined) {
      return {
        ok: false,
        reason: `read by process ${operation.process} at ${operation.call}: ${violation}`,
        operation,
      };
    }
  }
  return { ok: true, readsChecked: reads.length };
}

function snapshotViolation(
  output: BankOutput | undefined,
  accounts: ReadonlySet<string>,
  total: number,
): string | undefined {
  if (typeof output !== 'object' || output === null)
    return `returned ${JSON.stringify(output)}, not a snapshot`;
  for (const account of accounts) {
    if (!Object.hasOwn(output, account)) return `account ${JSON.stringify(account)} is missing`;
  }
  let sum = 0;
  for (const [account, balance] of Object.entries(output)) {
    if (!accounts.has(account)) return `unexpected account ${JSON.stringify(account)}`;
    if (typeof balance !== 'number' || !Number.isFinite(balance)) {
      const shown = typeof balance === 'number' ? String(balance) : JSON.stringify(balance);
      return `account ${JSON.stringify(account)} has balance ${shown}, not a finite number`;
    }
    if (balance < 0) return `account ${JSON.stringify(account)} has negative balance ${balance}`;
    sum += balance;
  }
  if (sum !== total) return `balances sum to ${sum}, expected ${total}`;
  return undefined;
}
