// Driving a running etcd cluster from Node through its v3 JSON gateway: a keep-alive HTTP client
// of the members, the commits the benches measure (put, txn of puts, read-modify-write) and the
// members' WAL fsync counters. Shared by the etcd bench and the quorum-store comparison.
import { Agent, get, request } from 'node:http';

const REQUEST_TIMEOUT_MS = 10_000;

/** Base64, as the gateway wants keys and values. */
export const b64 = (text: string | Uint8Array): string => Buffer.from(text).toString('base64');

/** A keep-alive HTTP/1.1 client of the gateway, one agent per member. */
export class EtcdGateway {
  private readonly members: { host: string; port: number; agent: Agent }[];

  constructor(readonly endpoints: string[]) {
    this.members = endpoints.map((endpoint) => {
      const url = new URL(endpoint);
      return { host: url.hostname, port: Number(url.port), agent: new Agent({ keepAlive: true }) };
    });
  }

  /** POSTs `body` to member `member % members` and resolves to the parsed 200 response. */
  post(member: number, path: string, body: Buffer | string): Promise<Record<string, unknown>> {
    const target = this.members[member % this.members.length];
    if (!target) return Promise.reject(new Error('no etcd endpoint'));
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: target.host,
          port: target.port,
          agent: target.agent,
          method: 'POST',
          path,
          headers: { 'content-type': 'application/json', 'content-length': bytes.length },
          timeout: REQUEST_TIMEOUT_MS,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (response.statusCode !== 200) {
              reject(
                new Error(
                  `${path} on ${target.host}:${target.port}: HTTP ${response.statusCode} ${text.slice(0, 200)}`,
                ),
              );
              return;
            }
            try {
              resolve(JSON.parse(text) as Record<string, unknown>);
            } catch {
              reject(new Error(`${path}: not JSON: ${text.slice(0, 200)}`));
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${path}: no answer within ${REQUEST_TIMEOUT_MS} ms`)));
      req.on('error', reject);
      req.end(bytes);
    });
  }

  close(): void {
    for (const { agent } of this.members) agent.destroy();
  }
}

/** The JSON of one put (key and value already base64). */
export function putJson(keyB64: string, valueB64: string): string {
  return `{"key":"${keyB64}","value":"${valueB64}"}`;
}

/** One durable put of one key: one commit. */
export async function etcdPut(
  gateway: EtcdGateway,
  member: number,
  keyB64: string,
  valueB64: string,
): Promise<void> {
  await gateway.post(member, '/v3/kv/put', putJson(keyB64, valueB64));
}

/** One txn putting every key (distinct keys: a txn may not put one twice): one commit. */
export async function etcdTxnPuts(
  gateway: EtcdGateway,
  member: number,
  keysB64: readonly string[],
  valueB64: string,
): Promise<void> {
  const puts = keysB64.map((key) => `{"requestPut":${putJson(key, valueB64)}}`);
  const reply = await gateway.post(member, '/v3/kv/txn', `{"success":[${puts.join(',')}]}`);
  if (reply.succeeded !== true)
    throw new Error(`txn did not succeed: ${JSON.stringify(reply).slice(0, 200)}`);
}

/**
 * Read-modify-write of one key with optimistic concurrency, as a user of etcd would write it: a
 * range, then a txn that puts only if the key's mod_revision is still the one read (0: absent),
 * retried on conflict. Resolves to the attempts it took.
 */
export async function etcdReadModifyWrite(
  gateway: EtcdGateway,
  member: number,
  keyB64: string,
  valueB64: string,
  attemptsMax = 20,
): Promise<number> {
  for (let attempt = 1; attempt <= attemptsMax; attempt++) {
    const read = await gateway.post(member, '/v3/kv/range', `{"key":"${keyB64}"}`);
    const kvs = read.kvs as { mod_revision?: string }[] | undefined;
    const revision = kvs?.[0]?.mod_revision ?? '0';
    const reply = await gateway.post(
      member,
      '/v3/kv/txn',
      `{"compare":[{"key":"${keyB64}","target":"MOD","result":"EQUAL","mod_revision":"${revision}"}],` +
        `"success":[{"requestPut":${putJson(keyB64, valueB64)}}]}`,
    );
    if (reply.succeeded === true) return attempt;
  }
  throw new Error(`read-modify-write kept conflicting after ${attemptsMax} attempts`);
}

/** A put through member 0 reads back through the last member: the cluster and gateway work. */
export async function checkEtcdRoundTrip(
  gateway: EtcdGateway,
  keyB64: string,
  valueB64: string,
): Promise<void> {
  await etcdPut(gateway, 0, keyB64, valueB64);
  const read = await gateway.post(gateway.endpoints.length - 1, '/v3/kv/range', `{"key":"${keyB64}"}`);
  const kvs = read.kvs as { value?: string }[] | undefined;
  if (kvs?.[0]?.value !== valueB64)
    throw new Error(`a put through the gateway did not read back: ${JSON.stringify(read)}`);
}

/** WAL fsyncs so far, summed over the members (from their Prometheus metrics on the client port). */
export async function etcdWalFsyncs(endpoints: string[]): Promise<{ count: number; seconds: number }> {
  const texts = await Promise.all(endpoints.map((endpoint) => fetchText(`${endpoint}/metrics`)));
  let count = 0;
  let seconds = 0;
  for (const text of texts) {
    count += Number(/^etcd_disk_wal_fsync_duration_seconds_count (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
    seconds += Number(/^etcd_disk_wal_fsync_duration_seconds_sum (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
  }
  return { count, seconds };
}

/** The body of a GET (any status), or a rejection after 10 s. */
export function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: REQUEST_TIMEOUT_MS }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('error', reject);
      response.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer`)));
    req.on('error', reject);
  });
}
