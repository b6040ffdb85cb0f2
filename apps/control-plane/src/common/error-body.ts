import { STATUS_CODES } from 'node:http';

/** The one error shape of the REST API: what failed, and what to do about it. */
export interface ErrorBody {
  statusCode: number;
  /** HTTP reason phrase, e.g. "Bad Request". */
  error: string;
  /** A sentence that says what to fix. */
  message: string;
  /** Per-field problems for validation errors, otherwise null. */
  details: FieldProblem[] | Record<string, unknown> | null;
}

export interface FieldProblem {
  field: string;
  problems: string[];
}

export function errorBody(
  statusCode: number,
  message: string,
  details: ErrorBody['details'] = null,
): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message, details };
}
