// A new connection on a cluster's port, up to the moment it is served (docs/adr/0012): its first
// byte says TLS or plain RESP (`admission.ts`), the cluster's policy at that moment says whether
// it may, and a TLS connection is served once its handshake is done, over the same port. A
// refused connection gets a reason it can show (a RESP error, or a TLS alert) and is closed; a
// handshake that fails or takes too long closes that connection only.
import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import type { TlsPolicy } from '../../../../libs/routes/src/index.js';
import { admit, arrivalOf, HANDSHAKE_FAILURE_ALERT, type RefusalReason } from './admission.js';

/** A refused client gets this long to read why and close its side; then the socket is destroyed. */
const REFUSED_CLOSE_GRACE_MS = 10_000;

export interface AcceptorHooks {
  /** The cluster's policy now: read at each connection's first byte, so a change applies at once. */
  policy(): TlsPolicy;
  /** The proxy's certificate and key; null when it has none (TLS is then refused). */
  secureContext: () => SecureContext | null;
  handshakeTimeoutMs: number;
  /** The connection is admitted (plain, or TLS with its handshake done): serve it from now on. */
  serve(socket: Socket, secure: boolean): void;
  refused(reason: RefusalReason, logLine: string | null): void;
  handshakeFailed(reason: string): void;
  /** The connection ended before it was served: the place it took among the proxy's is free. */
  gone(): void;
}

export class ConnectionAcceptor {
  /** Connections not yet served → how to end them. */
  private readonly pending = new Map<Socket, () => void>();

  constructor(private readonly hooks: AcceptorHooks) {}

  /** Connections accepted and not yet served (first byte or handshake awaited). */
  get waiting(): number {
    return this.pending.size;
  }

  accept(raw: Socket): void {
    let settled = false;
    const release = () => {
      if (settled) return;
      settled = true;
      this.pending.delete(raw);
      this.hooks.gone();
    };
    const serve = (socket: Socket, secure: boolean) => {
      if (settled) return;
      settled = true;
      this.pending.delete(raw);
      this.hooks.serve(socket, secure);
      // Paused below to look at the first byte: a 'data' listener alone does not restart it.
      socket.resume();
    };
    // A client that closes its side before saying anything will not say anything.
    const endedSilent = () => raw.destroy();
    this.pending.set(raw, () => raw.destroy());
    raw.on('error', () => undefined);
    raw.once('close', release);
    raw.once('end', endedSilent);
    raw.once('data', (chunk: Buffer) => {
      raw.pause();
      raw.removeListener('end', endedSilent);
      raw.unshift(chunk);
      const admission = admit(
        this.hooks.policy(),
        arrivalOf(chunk[0] as number),
        this.hooks.secureContext() !== null,
      );
      if (admission.kind === 'plain') serve(raw, false);
      else if (admission.kind === 'tls') this.handshake(raw, serve, release);
      else {
        this.hooks.refused(admission.reason, admission.kind === 'refuse-tls' ? admission.logLine : null);
        refuse(raw, admission.kind === 'refuse-plain' ? admission.reply : HANDSHAKE_FAILURE_ALERT);
      }
    });
  }

  /** Ends every connection not yet served (the endpoint closes). */
  closeAll(): void {
    for (const end of [...this.pending.values()]) end();
    this.pending.clear();
  }

  private handshake(
    raw: Socket,
    serve: (socket: Socket, secure: boolean) => void,
    release: () => void,
  ): void {
    const secure = new TLSSocket(raw, {
      isServer: true,
      secureContext: this.hooks.secureContext() as SecureContext,
      requestCert: false,
      rejectUnauthorized: false,
    });
    this.pending.set(raw, () => secure.destroy());
    let failed = false;
    const fail = (reason: string) => {
      if (failed) return;
      failed = true;
      this.hooks.handshakeFailed(reason);
      secure.destroy();
    };
    // A client that starts a handshake and stops (or sends a few bytes a minute) holds a place
    // among the proxy's connections: it gets a bounded time to finish.
    const timer = setTimeout(
      () => fail(`no TLS handshake within ${this.hooks.handshakeTimeoutMs} ms`),
      this.hooks.handshakeTimeoutMs,
    );
    const onError = (cause: Error) => {
      clearTimeout(timer);
      fail(cause.message);
    };
    secure.on('error', onError);
    secure.once('secure', () => {
      clearTimeout(timer);
      // From here on errors are the served connection's, handled where it is served.
      secure.removeListener('error', onError);
      secure.on('error', () => undefined);
      serve(secure, true);
    });
    secure.once('close', () => {
      clearTimeout(timer);
      release();
    });
  }
}

/** Says why (`reason`: a RESP error or a TLS alert), closes our side, and destroys it after a grace. */
function refuse(raw: Socket, reason: string | Buffer): void {
  raw.end(reason);
  // Read (and drop) what the client still sends, so that its close is seen.
  raw.on('data', () => undefined);
  raw.once('end', () => raw.destroy());
  raw.resume();
  setTimeout(() => raw.destroy(), REFUSED_CLOSE_GRACE_MS).unref();
}
