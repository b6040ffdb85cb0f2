/**
 * Input that breaks the protocol. It is returned rather than thrown, so a malformed stream can
 * never unwind a connection handler; the stream cannot be resynchronised, so the connection it came
 * from is to be closed. `message` is the text after '-' of the error line to send back.
 */
export class ParseError extends Error {
  override readonly name = 'ParseError';
}
