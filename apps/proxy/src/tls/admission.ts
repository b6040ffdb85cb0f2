// What a new client connection is, from its first byte, and what the endpoint does with it under
// the cluster's TLS policy (docs/adr/0012). Pure: the acceptor reads the byte and acts.
//
// A TLS connection opens with a handshake record, whose content type is 22 (0x16). A RESP request
// opens with a type marker (`*`, `$`, `+`, …) or, inline, with a command name's first letter:
// printable text, never 0x16. So one byte tells them apart, with no port of its own for TLS and no
// wait for more input.
import type { TlsPolicy } from '../../../../libs/routes/src/index.js';

export const TLS_HANDSHAKE_RECORD = 0x16;

export type Arrival = 'tls' | 'plain';

export function arrivalOf(firstByte: number): Arrival {
  return firstByte === TLS_HANDSHAKE_RECORD ? 'tls' : 'plain';
}

export type RefusalReason = 'tls-required' | 'tls-off' | 'tls-unavailable';

export type Admission =
  | { kind: 'plain' }
  | { kind: 'tls' }
  /** A plain client where TLS is required: it gets `reply` (a RESP error) and is closed. */
  | { kind: 'refuse-plain'; reason: 'tls-required'; reply: string }
  /** A TLS client that cannot have TLS here: it gets a TLS alert and is closed. */
  | { kind: 'refuse-tls'; reason: 'tls-off' | 'tls-unavailable'; logLine: string };

export const TLS_REQUIRED_REPLY =
  '-ERR this cluster requires TLS: connect with rediss:// (redis-cli --tls --cacert <ca.pem>)\r\n';

/**
 * What to do with a connection whose first byte says `arrival`, on a cluster whose policy is
 * `policy`, with or without a certificate loaded in this proxy.
 */
export function admit(policy: TlsPolicy, arrival: Arrival, hasCertificate: boolean): Admission {
  if (arrival === 'plain') {
    if (policy === 'required')
      return { kind: 'refuse-plain', reason: 'tls-required', reply: TLS_REQUIRED_REPLY };
    return { kind: 'plain' };
  }
  if (policy === 'off')
    return {
      kind: 'refuse-tls',
      reason: 'tls-off',
      logLine: 'refused a TLS connection: TLS is off for this cluster (PATCH its tls setting to allow it)',
    };
  if (!hasCertificate)
    return {
      kind: 'refuse-tls',
      reason: 'tls-unavailable',
      logLine:
        'refused a TLS connection: this proxy has no certificate (set BOREALIS_TLS_CERT_FILE and BOREALIS_TLS_KEY_FILE)',
    };
  return { kind: 'tls' };
}

/**
 * A TLS alert record: fatal (2), handshake_failure (40), in a TLS 1.2 record header, which every
 * TLS version's client reads. Sent to a client whose TLS is refused, so that it reports a
 * handshake failure at once instead of waiting on a server that says nothing.
 */
export const HANDSHAKE_FAILURE_ALERT = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
