// Reading command arguments: keys and fields as latin1 strings, option keywords as Redis compares them.

export function keyAt(args: Buffer[], index: number): string {
  return (args[index] as Buffer).toString('latin1');
}

/** Redis compares option keywords as C strings: case-insensitively and up to the first NUL byte. */
export function keyword(argument: Buffer): string {
  return cString(argument).replace(/[a-z]+/g, (letters) => letters.toUpperCase());
}

export function cString(bytes: Buffer): string {
  const nul = bytes.indexOf(0);
  return bytes.toString('latin1', 0, nul < 0 ? bytes.length : nul);
}
