// Clients for end-to-end tests: ioredis clients that fail fast instead of reconnecting, a raw RESP
// connection that keeps every reply (and can bind a local address), and command-line tools
// (redis-cli, redis-benchmark) fed on stdin. `connectRedis` and `runTool` keep what they start in
// a set the caller closes; a `ClientSet` keeps its own and closes everything in `closeAll`.
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { encodeRequest } from '../../apps/proxy/src/resp/request-bytes.js';
import { ParseError, type Reply, ReplyParser } from '../../libs/resp/src/index.js';
import { waitUntil } from './wait.js';

export const COMMAND_TIMEOUT_MS = 20_000;

/**
 * An ioredis client that never reconnects on its own and fails fast, kept in `open`; connected.
 * A failed connection rejects and leaves nothing in `open`.
 */
export async function connectRedis(
  port: number,
  options: RedisOptions,
  open: Set<Redis>,
  onError?: (cause: Error) => void,
): Promise<Redis> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    commandTimeout: COMMAND_TIMEOUT_MS,
    ...options,
  });
  client.on('error', (cause: Error) => onError?.(cause));
  open.add(client);
  try {
    await client.connect();
  } catch (error) {
    // Never connected: nothing to keep open for the caller to close.
    open.delete(client);
    client.disconnect();
    throw error;
  }
  return client;
}

export class ClientSet {
  private readonly redisClients = new Set<Redis>();
  private readonly sockets = new Set<Socket>();
  private readonly tools = new Set<ChildProcess>();

  /** An ioredis client that never reconnects on its own and fails fast; connected. */
  redis(port: number, options: RedisOptions = {}, onError?: (cause: Error) => void): Promise<Redis> {
    return connectRedis(port, { enableOfflineQueue: false, ...options }, this.redisClients, onError);
  }

  async raw(port: number, localAddress?: string): Promise<RawConnection> {
    const connection = await RawConnection.open(port, localAddress);
    this.sockets.add(connection.socket);
    return connection;
  }

  tool(command: string, args: string[], input: string, timeoutMs: number): Promise<ToolResult> {
    return runTool(command, args, input, timeoutMs, this.tools);
  }

  closeAll(): void {
    for (const client of this.redisClients) client.disconnect();
    for (const socket of this.sockets) socket.destroy();
    for (const child of this.tools) child.kill('SIGKILL');
    this.redisClients.clear();
    this.sockets.clear();
    this.tools.clear();
  }
}

/**
 * A raw connection: bytes out as given (or requests encoded by hand), replies read with
 * ReplyParser and kept in order.
 */
export class RawConnection {
  readonly replies: Reply[] = [];
  /** Set if the server sent bytes that are not RESP. */
  malformed: string | null = null;
  closed = false;
  private readonly parser = new ReplyParser();
  private wake: (() => void) | null = null;

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.parser.push(chunk);
      for (let reply = this.parser.next(); reply !== null; reply = this.parser.next()) {
        if (reply instanceof ParseError) {
          this.malformed ??= reply.message;
          break;
        }
        this.replies.push(reply);
      }
      this.notify();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
  }

  static open(port: number, localAddress?: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({
        host: '127.0.0.1',
        port,
        ...(localAddress === undefined ? {} : { localAddress }),
      });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no connection to 127.0.0.1:${port} within 5 s`));
      }, 5_000);
      socket.once('error', (cause) => {
        clearTimeout(timer);
        reject(cause);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new RawConnection(socket));
      });
    });
  }

  send(...requests: (string | Buffer)[][]): void {
    this.socket.write(Buffer.concat(requests.map((args) => encodeRequest(args))));
  }

  /** Sends the requests and resolves with their replies (all of them, in order). */
  async call(...requests: (string | Buffer)[][]): Promise<Reply[]> {
    const from = this.replies.length;
    this.send(...requests);
    await this.waitForReplies(from + requests.length);
    return this.replies.slice(from, from + requests.length);
  }

  async waitForReplies(count: number, timeoutMs = COMMAND_TIMEOUT_MS): Promise<void> {
    await waitUntil(
      `${count} replies (have ${this.replies.length})`,
      timeoutMs,
      () => {
        if (this.malformed !== null) throw new Error(`malformed reply: ${this.malformed}`);
        return this.replies.length >= count || this.closed;
      },
      5,
    );
    if (this.replies.length < count)
      throw new Error(`the connection closed after ${this.replies.length} of ${count} replies`);
  }

  /** True once `condition` holds; false if it still does not after `timeoutMs`. */
  async until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.wake = done;
      });
    }
    return true;
  }

  /** Half-closes our side; the server then closes too. */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}

export interface ToolResult {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** Runs a command-line tool fed `input` on stdin, kept in `running` until it ends. */
export function runTool(
  command: string,
  args: string[],
  input: string,
  timeoutMs: number,
  running: Set<ChildProcess>,
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('latin1').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('latin1').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} did not finish within ${timeoutMs} ms; output:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('error', (cause) => {
      clearTimeout(timer);
      running.delete(child);
      reject(cause);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code: code ?? signal ?? 'unknown', stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** A reply's bytes as text, for comparisons. */
export function text(reply: Reply | undefined): string | null {
  if (reply === undefined) return null;
  if (reply.kind === 'bulk') return Buffer.from(reply.value).toString('latin1');
  if (reply.kind === 'simple') return reply.value;
  if (reply.kind === 'error') return reply.message;
  if (reply.kind === 'integer') return String(reply.value);
  return reply.kind;
}
