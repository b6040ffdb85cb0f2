// Pure text of CLIENT LIST / CLIENT INFO lines and MONITOR lines, in Redis's formats.

/** What CLIENT LIST prints of one connection, in Redis 7.4's field order, then Borealis's own. */
export interface ClientFacts {
  id: number;
  addr: string;
  laddr: string;
  fd: number;
  name: string;
  ageSeconds: number;
  idleSeconds: number;
  flags: string;
  /** MULTI's queued commands, -1 outside MULTI. */
  multi: number;
  watch: number;
  qbuf: number;
  qbufFree: number;
  argvMem: number;
  multiMem: number;
  obl: number;
  oll: number;
  omem: number;
  totMem: number;
  events: string;
  cmd: string;
  user: string;
  resp: number;
  libName: string;
  libVer: string;
  /** Borealis's fields, printed after Redis's. */
  extra: readonly [string, string | number][];
}

/**
 * One CLIENT LIST line (without its '\n'). Redis 7.0 prints the same fields without `watch`
 * (added in 7.4) and without `lib-name`/`lib-ver` (added in 7.2); we follow 7.4.
 */
export function formatClientLine(facts: ClientFacts): string {
  const fields: [string, string | number][] = [
    ['id', facts.id],
    ['addr', facts.addr],
    ['laddr', facts.laddr],
    ['fd', facts.fd],
    ['name', facts.name],
    ['age', facts.ageSeconds],
    ['idle', facts.idleSeconds],
    ['flags', facts.flags],
    ['db', 0],
    ['sub', 0],
    ['psub', 0],
    ['ssub', 0],
    ['multi', facts.multi],
    ['watch', facts.watch],
    ['qbuf', facts.qbuf],
    ['qbuf-free', facts.qbufFree],
    ['argv-mem', facts.argvMem],
    ['multi-mem', facts.multiMem],
    // Reply buffers are Node's socket buffers here, not a fixed-size block: none is reported.
    ['rbs', 0],
    ['rbp', 0],
    ['obl', facts.obl],
    ['oll', facts.oll],
    ['omem', facts.omem],
    ['tot-mem', facts.totMem],
    ['events', facts.events],
    ['cmd', facts.cmd],
    ['user', facts.user],
    ['redir', -1],
    ['resp', facts.resp],
    ['lib-name', facts.libName],
    ['lib-ver', facts.libVer],
    ...facts.extra,
  ];
  return fields.map(([key, value]) => `${key}=${value}`).join(' ');
}

/**
 * Redis's sdscatrepr: the bytes between double quotes, with `\\`, `\"`, `\n`, `\r`, `\t`, `\a`,
 * `\b` escaped and every other byte outside the printable ASCII range as `\xhh`.
 */
export function quoteBytes(bytes: Buffer): string {
  let text = '"';
  for (const byte of bytes) {
    switch (byte) {
      case 0x5c:
        text += '\\\\';
        break;
      case 0x22:
        text += '\\"';
        break;
      case 0x0a:
        text += '\\n';
        break;
      case 0x0d:
        text += '\\r';
        break;
      case 0x09:
        text += '\\t';
        break;
      case 0x07:
        text += '\\a';
        break;
      case 0x08:
        text += '\\b';
        break;
      default:
        text +=
          byte >= 0x20 && byte <= 0x7e
            ? String.fromCharCode(byte)
            : `\\x${byte.toString(16).padStart(2, '0')}`;
    }
  }
  return `${text}"`;
}

const REDACTED = Buffer.from('(redacted)');

/**
 * The arguments MONITOR shows, with Redis's redactions: every argument of AUTH, and the user
 * and password of HELLO's AUTH option (so a password never reaches a monitor).
 */
export function redactedArguments(args: readonly Buffer[]): Buffer[] {
  const name = (args[0] ?? Buffer.alloc(0)).toString('latin1').toLowerCase();
  if (name === 'auth') return args.map((arg, index) => (index === 0 ? arg : REDACTED));
  if (name === 'hello') {
    const shown = [...args];
    // As Redis's HELLO reads its options: AUTH takes two values, SETNAME one.
    for (let index = 2; index < shown.length; index++) {
      const option = (shown[index] as Buffer).toString('latin1').toLowerCase();
      const more = shown.length - 1 - index;
      if (option === 'auth' && more >= 2) {
        shown[index + 1] = REDACTED;
        shown[index + 2] = REDACTED;
        index += 2;
      } else if (option === 'setname' && more >= 1) {
        index += 1;
      } else {
        break;
      }
    }
    return shown;
  }
  return [...args];
}

/** `1339518083.107412 [0 127.0.0.1:60866] "keys" "*"` (the reply's leading '+' is RESP's). */
export function formatMonitorLine(nowMicros: bigint, addr: string, args: readonly Buffer[]): string {
  const seconds = nowMicros / 1_000_000n;
  const micros = String(nowMicros % 1_000_000n).padStart(6, '0');
  const shown = redactedArguments(args).map(quoteBytes).join(' ');
  return `${seconds}.${micros} [0 ${addr}] ${shown}`;
}
