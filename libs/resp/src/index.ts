export { formatDouble } from './double-text.js';
export { splitInlineArgs } from './inline-args.js';
export { ParseError } from './parse-error.js';
export { array, bulk, error, integer, NULL, OK, type Reply, simple } from './reply.js';
export { encodeReplies, encodeReply, type RespVersion } from './reply-encoder.js';
export {
  REPLY_AGGREGATE_LENGTH_MAX_DEFAULT,
  REPLY_BULK_BYTES_MAX_DEFAULT,
  REPLY_DEPTH_MAX_DEFAULT,
  REPLY_LINE_BYTES_MAX_DEFAULT,
  ReplyParser,
  type ReplyParserOptions,
} from './reply-parser.js';
export {
  REQUEST_ARGS_MAX_DEFAULT,
  REQUEST_BULK_BYTES_MAX_DEFAULT,
  REQUEST_COUNT_LINE_BYTES_MAX_DEFAULT,
  REQUEST_INLINE_BYTES_MAX_DEFAULT,
  RequestParser,
  type RequestParserOptions,
} from './request-parser.js';
