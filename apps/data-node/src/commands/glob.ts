// Glob matching with the exact semantics of Redis's `stringmatchlen` (util.c), used by KEYS,
// SCAN MATCH and COMMAND LIST FILTERBY PATTERN. Redis works on bytes; here both strings hold
// bytes 1:1 as latin1 characters, so a character code is a byte.
//
// The quirks are kept on purpose, since clients see them: an unterminated `[` class runs to the
// end of the pattern, a trailing backslash matches itself, and range bounds compare as C's signed
// `char`, so a range that crosses 0x80 behaves as it does in Redis.

const STAR = 0x2a;
const QUESTION_MARK = 0x3f;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const CARET = 0x5e;
const DASH = 0x2d;
const BACKSLASH = 0x5c;

export interface GlobOptions {
  /** ASCII case-insensitive, as Redis's `nocase` flag (COMMAND LIST uses it; KEYS does not). */
  ignoreCase?: boolean;
}

export function globMatch(pattern: string, subject: string, options: GlobOptions = {}): boolean {
  // KEYS and SCAN take a lone `*` as "every key" without matching, which differs from matching
  // only for the empty key: stringmatchlen itself never matches an empty subject with a star.
  if (pattern === '*') return true;
  const search = { pattern, subject, ignoreCase: options.ignoreCase ?? false, skipLongerMatches: false };
  return matchFrom(search, 0, 0);
}

interface GlobSearch {
  readonly pattern: string;
  readonly subject: string;
  readonly ignoreCase: boolean;
  /**
   * Set once the rest of a pattern after a `*` matched nowhere in the subject: an earlier `*`
   * taking more characters cannot help then, which keeps patterns like `a*a*a*a*b` linear
   * (Redis's fix for CVE-2022-36021).
   */
  skipLongerMatches: boolean;
}

function matchFrom(search: GlobSearch, patternStart: number, subjectStart: number): boolean {
  const { pattern, subject } = search;
  const patternEnd = pattern.length;
  const subjectEnd = subject.length;
  let p = patternStart;
  let s = subjectStart;
  while (p < patternEnd && s < subjectEnd) {
    const patternCode = pattern.charCodeAt(p);
    if (patternCode === STAR) {
      while (pattern.charCodeAt(p + 1) === STAR) p++;
      if (p + 1 === patternEnd) return true;
      for (; s < subjectEnd; s++) {
        if (matchFrom(search, p + 1, s)) return true;
        if (search.skipLongerMatches) return false;
      }
      search.skipLongerMatches = true;
      return false;
    }
    if (patternCode === QUESTION_MARK) {
      s++;
    } else if (patternCode === OPEN_BRACKET) {
      const classEnd = matchClass(search, p + 1, subject.charCodeAt(s));
      if (classEnd < 0) return false;
      p = classEnd;
      s++;
    } else {
      // A backslash escapes the next character, unless it is the last one: then it is literal.
      if (patternCode === BACKSLASH && patternEnd - p >= 2) p++;
      if (!sameByte(pattern.charCodeAt(p), subject.charCodeAt(s), search.ignoreCase)) return false;
      s++;
    }
    p++;
    if (s === subjectEnd) {
      while (pattern.charCodeAt(p) === STAR) p++;
      break;
    }
  }
  return p === patternEnd && s === subjectEnd;
}

/**
 * Matches one subject byte against the class starting at `classStart` (just past the `[`).
 * Returns the index of the class's last pattern character (its `]`, or the pattern's last
 * character when unterminated), or -1 when the byte does not match.
 */
function matchClass(search: GlobSearch, classStart: number, subjectCode: number): number {
  const { pattern, ignoreCase } = search;
  const patternEnd = pattern.length;
  let p = classStart;
  const negated = pattern.charCodeAt(p) === CARET;
  if (negated) p++;
  let matched = false;
  for (;;) {
    const remaining = patternEnd - p;
    const code = pattern.charCodeAt(p);
    if (code === BACKSLASH && remaining >= 2) {
      p++;
      if (pattern.charCodeAt(p) === subjectCode) matched = true;
    } else if (code === CLOSE_BRACKET) {
      break;
    } else if (remaining === 0) {
      p--;
      break;
    } else if (remaining >= 3 && pattern.charCodeAt(p + 1) === DASH) {
      if (inRange(code, pattern.charCodeAt(p + 2), subjectCode, ignoreCase)) matched = true;
      p += 2;
    } else if (sameByte(code, subjectCode, ignoreCase)) {
      matched = true;
    }
    p++;
  }
  return matched !== negated ? p : -1;
}

function inRange(boundA: number, boundB: number, subjectCode: number, ignoreCase: boolean): boolean {
  let low = signedChar(boundA);
  let high = signedChar(boundB);
  let value = signedChar(subjectCode);
  if (low > high) [low, high] = [high, low];
  if (ignoreCase) {
    low = asciiLower(low);
    high = asciiLower(high);
    value = asciiLower(value);
  }
  return value >= low && value <= high;
}

function sameByte(a: number, b: number, ignoreCase: boolean): boolean {
  return ignoreCase ? asciiLower(a) === asciiLower(b) : a === b;
}

/** C's `char` is signed on the platforms Redis runs on. */
function signedChar(code: number): number {
  return code >= 0x80 ? code - 0x100 : code;
}

function asciiLower(code: number): number {
  return code >= 0x41 && code <= 0x5a ? code + 0x20 : code;
}
