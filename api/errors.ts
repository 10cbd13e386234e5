import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** Every error code the API can answer with, and its HTTP status. Adding a code without a status does not compile. */
export const ERROR_STATUS = {
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  INVALID_DATE_RANGE: 400,
  VALIDATION_ERROR: 400,
  NOT_FOUND: 404,
  REPORT_NOT_FOUND: 404,
  RATE_LIMIT_EXCEEDED: 429,
  REPORT_GENERATION_FAILED: 500,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL_ERROR: 500,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** The one error type domain code throws; `onError` turns it into `{ code, message }`. */
export class AppError extends Error {
  readonly status: ContentfulStatusCode;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ERROR_STATUS[code];
  }
}

export interface ErrorBody {
  code: ErrorCode;
  message: string;
}
