// One redis-benchmark test, parsed from its CSV: the data-node bench (Borealis vs an fsyncing
// Redis) and the endpoint TLS bench (TLS vs plain, Borealis's proxy and Redis) drive it alike.
import { commandOutput } from './command.js';

export const CLIENTS = 50;
/** Commands each client sends before it reads replies, in the pipelined rows. */
export const PIPELINE = 16;
export const KEY_SPACE = 100_000;
export const VALUE_BYTES = 100;

/** One redis-benchmark test: a command, unpipelined or with `-P 16`. */
export interface Case {
  command: 'set' | 'get';
  pipeline: number;
}

export interface TestResult {
  test: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export const CASES: readonly Case[] = [
  { command: 'set', pipeline: 1 },
  { command: 'get', pipeline: 1 },
  { command: 'set', pipeline: PIPELINE },
  { command: 'get', pipeline: PIPELINE },
];

export const caseName = (testCase: Case) =>
  `${testCase.command.toUpperCase()}${testCase.pipeline > 1 ? ` -P ${testCase.pipeline}` : ''}`;

/** How the client reaches the server beyond host and port: a password, TLS with a CA file. */
export interface Connection {
  port: number;
  password?: string;
  tlsCaFile?: string;
}

/** The flags redis-benchmark takes for `connection`. */
export function connectionArgs(connection: Connection): string[] {
  return [
    '-h',
    '127.0.0.1',
    '-p',
    String(connection.port),
    ...(connection.password === undefined ? [] : ['-a', connection.password]),
    ...(connection.tlsCaFile === undefined ? [] : ['--tls', '--cacert', connection.tlsCaFile]),
  ];
}

/** Runs one test over `keySpace` random keys; parses redis-benchmark's CSV. */
export async function redisBenchmark(
  connection: Connection,
  requests: number,
  testCase: Case,
  keySpace = KEY_SPACE,
): Promise<TestResult> {
  const output = await commandOutput(
    'redis-benchmark',
    [
      ...connectionArgs(connection),
      '-t',
      testCase.command,
      '-P',
      String(testCase.pipeline),
      '-c',
      String(CLIENTS),
      '-n',
      String(requests),
      '-r',
      String(keySpace),
      '-d',
      String(VALUE_BYTES),
      '--csv',
    ],
    300_000,
  );
  const results: TestResult[] = [];
  for (const line of output.split('\n')) {
    const fields = line.split(',').map((field) => field.replace(/^"|"$/g, ''));
    if (fields.length < 7 || fields[0] === 'test') continue;
    const [test, rps, , , p50, , p99] = fields;
    results.push({
      test: test as string,
      requestsPerSecond: Number(rps),
      p50Ms: Number(p50),
      p99Ms: Number(p99),
    });
  }
  const [result] = results;
  if (results.length !== 1 || result === undefined)
    throw new Error(`unexpected redis-benchmark output: ${output.slice(0, 500)}`);
  return result;
}
