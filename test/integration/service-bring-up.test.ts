// The set-up scripts' service rules, on real servers: a private redis-server that starts
// and stops, and clear errors for unreachable DATABASE_URL and REDIS_URL.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { repoRoot } from '../support/environment.js';
import { freePort } from '../support/processes.js';

interface ServiceHandle {
  url: string;
  source: string;
  stop(): Promise<void>;
}

async function scriptModule<T>(name: string): Promise<T> {
  return (await import(pathToFileURL(join(repoRoot, 'scripts', 'lib', name)).href)) as T;
}

async function answersPing(url: string): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1000,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** Runs `work` with one environment variable set, restoring it afterwards. */
async function withEnv<T>(name: string, value: string, work: () => Promise<T>): Promise<T> {
  const previous = process.env[name];
  process.env[name] = value;
  try {
    return await work();
  } finally {
    if (previous === undefined) delete process.env[name];
    else process.env[name] = previous;
  }
}

describe('service bring-up scripts', () => {
  let dataDir: string;

  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'borealis-services-'));
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('starts a private redis-server on the given port and stops it', async () => {
    const { startRedisServer } = await scriptModule<{
      startRedisServer(options: { dataDir: string; port: number }): Promise<ServiceHandle>;
    }>('redis.mjs');
    const port = await freePort();
    const redis = await startRedisServer({ dataDir, port });
    try {
      assert.equal(redis.url, `redis://127.0.0.1:${port}`);
      assert.equal(redis.source, 'started');
      assert.equal(await answersPing(redis.url), true);
    } finally {
      await redis.stop();
    }
    assert.equal(await answersPing(redis.url), false, 'stop() ends the server');
  });

  it('says what to do when REDIS_URL does not answer', async () => {
    const { ensureRedis } = await scriptModule<{
      ensureRedis(options: { dataDir: string; port: number }): Promise<ServiceHandle>;
    }>('redis.mjs');
    const url = `redis://:secret@127.0.0.1:${await freePort()}`;
    await assert.rejects(
      withEnv('REDIS_URL', url, () => ensureRedis({ dataDir, port: 1 })),
      (error: Error) => {
        assert.match(error.message, /REDIS_URL .* is not reachable: .*fix REDIS_URL, or unset it/);
        assert.doesNotMatch(error.message, /secret/, 'the password is not shown');
        return true;
      },
    );
  });

  it('says what to do when DATABASE_URL does not answer', async () => {
    const { ensurePostgres } = await scriptModule<{
      ensurePostgres(options: { dataDir: string; port: number; database: string }): Promise<ServiceHandle>;
    }>('postgres.mjs');
    const url = `postgresql://borealis:secret@127.0.0.1:${await freePort()}/borealis`;
    await assert.rejects(
      withEnv('DATABASE_URL', url, () => ensurePostgres({ dataDir, port: 1, database: 'borealis' })),
      (error: Error) => {
        assert.match(
          error.message,
          /DATABASE_URL .* is not reachable: .*unset it to use the embedded PostgreSQL/,
        );
        assert.doesNotMatch(error.message, /secret/, 'the password is not shown');
        return true;
      },
    );
  });
});
