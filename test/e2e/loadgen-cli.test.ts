// The load generator's CLI as `npm run loadgen` runs it (the compiled main.js in a process of its
// own) against the test Redis, a real RESP server: a counter run whose acknowledged INCRs equal
// the counters' final values, the idle pattern's connections all answering at the end, and the
// exit codes and one-line errors for wrong options and an endpoint nobody listens on.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { testEnvironment } from '../support/environment.js';
import { runLoadgenCli } from '../support/loadgen.js';
import { freePortRange } from '../support/processes.js';

const loadgen = (args: string[]) => runLoadgenCli(args, 60_000);

describe('the load generator CLI', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'borealis-loadgen-'));
  const prefix = `loadgen-test-${process.pid}:`;
  let redis: Redis;
  let endpoint: string;

  before(async () => {
    const url = new URL(testEnvironment.redisUrl());
    endpoint = `${url.hostname}:${url.port || 6379}`;
    redis = new Redis(testEnvironment.redisUrl());
  });

  after(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('runs a counter workload to the schedule, and its acknowledged INCRs are the counters’ values', async () => {
    const out = join(scratch, 'counter.json');
    const run = await loadgen([
      '--endpoint',
      endpoint,
      '--pattern',
      'custom',
      '--steps',
      '1:0,2:300',
      '--workload',
      'counter',
      '--keys',
      '7',
      '--key-prefix',
      prefix,
      '--connections',
      '4',
      '--json',
      out,
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /commands {5}\d[\d,]* answered/);
    const summary = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(summary.failed, 0);
    assert.equal(summary.connections.dropped, 0);
    assert.equal(summary.shortfall, 0);
    assert.ok(summary.ops >= 540 && summary.ops <= 600, `the schedule asks for 600 commands: ${summary.ops}`);
    assert.deepEqual(summary.counters.unknown, {});
    let total = 0;
    for (const [key, count] of Object.entries(summary.counters.acknowledged as Record<string, number>)) {
      assert.equal(Number(await redis.get(key)), count, key);
      total += count;
    }
    assert.equal(total, summary.ops);
    assert.ok(summary.startedAtMs > 0 && summary.perSecond.length >= 2);
  });

  it('keeps idle connections open and checks each with a PING at the end', async () => {
    const out = join(scratch, 'idle.json');
    const run = await loadgen([
      '--endpoint',
      endpoint,
      '--pattern',
      'idle',
      '--duration',
      '1s',
      '--connections',
      '5',
      '--json',
      out,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const summary = JSON.parse(readFileSync(out, 'utf8'));
    assert.deepEqual([summary.ops, summary.failed, summary.connections.opened], [5, 0, 5]);
  });

  it('refuses wrong options with one line saying what to write, exit 2', async () => {
    for (const [args, message] of [
      [[], /--endpoint HOST:PORT is required/],
      [
        ['--endpoint', endpoint, '--pattern', 'wave'],
        /--pattern must be one of step, ramp, spike, idle, custom/,
      ],
      [['--endpoint', endpoint, '--pattern', 'custom'], /--pattern custom needs --steps/],
      [['--endpoint', endpoint, '--duration', 'soon'], /write e\.g\. 500ms, 30s, 2m/],
      [['--endpoint', endpoint, '--read-ratio', '2'], /--read-ratio must be a number from 0 to 1/],
      [['--endpoint', endpoint, '--colour'], /Unknown option '--colour'/],
    ] as const) {
      const run = await loadgen([...args]);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
      assert.match(run.stderr, /^error: /);
    }
  });

  it('says so and exits 1 when nothing listens at the endpoint', async () => {
    const port = await freePortRange(1);
    const run = await loadgen(['--endpoint', `127.0.0.1:${port}`, '--duration', '1s']);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      new RegExp(`^error: could not open a connection to 127\\.0\\.0\\.1:${port}: .*check the endpoint`),
    );
  });
});
