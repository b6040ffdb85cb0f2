// `npm run loadgen`: drives RESP load at a cluster's endpoint in a pattern over time, shows a
// progress line, and ends with a summary (and JSON with --json). See ../ARCHITECTURE.md.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { LoadGenerator, type LoadOptions, type Workload } from './load-generator.js';
import {
  PATTERN_NAMES,
  type Pattern,
  type PatternName,
  parseDuration,
  parseRate,
  parseSteps,
  totalSeconds,
  UsageError,
} from './patterns.js';
import { progressLine, summaryJson, summaryText } from './summary.js';

const HELP = `Usage: npm run loadgen -- --endpoint HOST:PORT [options]

  --endpoint HOST:PORT   the cluster's endpoint (required)
  --password PASSWORD    its data password (AUTH); none if omitted
  --pattern NAME         step: idle for the first quarter, then --rate to the end (default)
                         ramp: from 0 up to --rate over the duration
                         spike: --rate/10, with --rate for the middle fifth
                         idle: connections open, no commands; one PING each at the end
                         custom: the --steps list, in order
  --duration D           how long (500ms, 30s, 2m, or seconds); default 30s, or the sum of --steps
  --rate N               peak commands per second (default 1000)
  --steps LIST           custom: SECONDS:RATE,SECONDS:RATE,… e.g. 5:0,10:400,5:100
  --workload NAME        kv: GET/SET of random keys (default); counter: INCR of random counters,
                         reporting acknowledged and unknown INCRs per counter
  --read-ratio R         kv: share of GETs, 0 to 1 (default 0.5)
  --connections N        connections to open (default 16)
  --keys N               keys (or counters) to spread commands over (default 10000)
  --value-size BYTES     kv: SET value size (default 100)
  --key-prefix TEXT      prefix of every key (default loadgen:)
  --timeout-ms N         a command not answered by then fails as a timeout (default 10000)
  --in-flight N          commands in flight per connection at most (default 256)
  --json FILE            also write the summary as JSON
  --quiet                no progress line
  --help                 this text

Exit status: 0 when the run completed (failed commands are in the summary), 1 when no
connection could be opened, 2 for a wrong option.`;

function integer(
  text: string | undefined,
  option: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`${option} must be a whole number from ${min} to ${max}`);
  }
  return Number(text);
}

interface Cli {
  options: LoadOptions;
  json: string | null;
  quiet: boolean;
}

function parseCli(argv: string[]): Cli | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        endpoint: { type: 'string' },
        password: { type: 'string' },
        pattern: { type: 'string' },
        duration: { type: 'string' },
        rate: { type: 'string' },
        steps: { type: 'string' },
        workload: { type: 'string' },
        'read-ratio': { type: 'string' },
        connections: { type: 'string' },
        keys: { type: 'string' },
        'value-size': { type: 'string' },
        'key-prefix': { type: 'string' },
        'timeout-ms': { type: 'string' },
        'in-flight': { type: 'string' },
        json: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}; see --help`);
  }
  if (values.help === true) return 'help';
  const text = (name: string) => values[name] as string | undefined;
  const endpoint = text('endpoint');
  const match = endpoint === undefined ? null : /^(.+):(\d{1,5})$/.exec(endpoint);
  if (match === null || Number(match[2]) < 1 || Number(match[2]) > 65535) {
    throw new UsageError(
      "--endpoint HOST:PORT is required, e.g. --endpoint 127.0.0.1:7500 (see the cluster's endpoint)",
    );
  }
  const name = (text('pattern') ?? 'step') as PatternName;
  if (!PATTERN_NAMES.includes(name))
    throw new UsageError(`--pattern must be one of ${PATTERN_NAMES.join(', ')}`);
  const stepsText = text('steps');
  if (name === 'custom' && stepsText === undefined)
    throw new UsageError('--pattern custom needs --steps, e.g. --steps 5:0,10:400');
  if (name !== 'custom' && stepsText !== undefined)
    throw new UsageError('--steps applies only to --pattern custom');
  const steps = stepsText === undefined ? [] : parseSteps(stepsText);
  const durationText = text('duration');
  const durationSeconds =
    durationText !== undefined
      ? parseDuration(durationText, '--duration')
      : name === 'custom'
        ? totalSeconds(steps)
        : 30;
  const pattern: Pattern = {
    name,
    rate: text('rate') === undefined ? 1_000 : parseRate(text('rate') as string, '--rate'),
    durationSeconds,
    steps,
  };
  const workload = (text('workload') ?? 'kv') as Workload;
  if (workload !== 'kv' && workload !== 'counter') throw new UsageError('--workload must be kv or counter');
  const readRatioText = text('read-ratio') ?? '0.5';
  const readRatio = Number(readRatioText);
  if (!/^\d*(\.\d+)?$/.test(readRatioText) || !(readRatio >= 0 && readRatio <= 1)) {
    throw new UsageError('--read-ratio must be a number from 0 to 1, e.g. 0.8');
  }
  return {
    options: {
      host: match[1] as string,
      port: Number(match[2]),
      password: text('password') ?? null,
      pattern,
      workload,
      readRatio,
      connections: integer(text('connections'), '--connections', 16, 1, 10_000),
      keys: integer(text('keys'), '--keys', 10_000, 1, 100_000_000),
      valueSize: integer(text('value-size'), '--value-size', 100, 0, 16 * 1024 * 1024),
      keyPrefix: text('key-prefix') ?? 'loadgen:',
      timeoutMs: integer(text('timeout-ms'), '--timeout-ms', 10_000, 10, 600_000),
      inFlightMax: integer(text('in-flight'), '--in-flight', 256, 1, 100_000),
    },
    json: text('json') ?? null,
    quiet: values.quiet === true,
  };
}

async function main(): Promise<number> {
  let cli: Cli | 'help';
  try {
    cli = parseCli(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`error: ${error.message}\n`);
    return 2;
  }
  if (cli === 'help') {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const { options, json, quiet } = cli;
  const generator = new LoadGenerator(options);
  const connected = await generator.connect();
  if (!connected.ok) {
    process.stderr.write(
      `error: could not open a connection to ${options.host}:${options.port}: ${connected.error ?? 'no answer'}; check the endpoint and that the cluster exists\n`,
    );
    return 1;
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const tty = process.stderr.isTTY === true;
  let lastPrinted = 0;
  const result = await generator.run((progress) => {
    if (quiet) return;
    if (tty) process.stderr.write(`\r\x1b[2K${progressLine(progress)}`);
    else if (progress.elapsedSeconds - lastPrinted >= 5) {
      lastPrinted = progress.elapsedSeconds;
      process.stderr.write(`${progressLine(progress)}\n`);
    }
  }, stop.signal);
  if (!quiet && tty) process.stderr.write('\n');
  const summary = summaryJson(options.pattern.name, options.workload, result);
  process.stdout.write(`${summaryText(summary)}\n`);
  if (json !== null) writeFileSync(json, `${JSON.stringify(summary, null, 2)}\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    process.exitCode = 1;
  },
);
