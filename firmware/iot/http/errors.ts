/**
 * Every failure of the HTTP client is an HttpError with a code saying what kind of failure
 * it was, so a caller can decide whether to retry without parsing messages.
 */
export type HttpErrorCode =
  /** The URL is not an absolute http:// or https:// URL this client can request. */
  | 'url'
  /** The response breaks HTTP/1.1 syntax (status line, header, chunk framing, Content-Range). */
  | 'malformed'
  /** The status line and headers exceed the parser's byte or count limits. */
  | 'too-large'
  /** The response uses something this client does not implement (a transfer coding other than chunked). */
  | 'unsupported'
  /** A status the request cannot use (4xx, 5xx, an unexpected 1xx, a redirect without Location, too many redirects). */
  | 'status'
  /** A 206 whose Content-Range does not start where the Range header asked. */
  | 'range'
  /** The connection closed before the body was complete. */
  | 'truncated'
  /** Nothing arrived for the configured time. */
  | 'timeout'
  /** The socket failed (DNS, refused, TLS, reset). */
  | 'network'
  /** The caller's handler threw; the request was closed. */
  | 'aborted';

export class HttpError extends Error {
  constructor(
    readonly code: HttpErrorCode,
    message: string,
    /** The response status, when the failure concerns a response that had one. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'HttpError';
  }

  /**
   * Whether trying the same request again later may succeed: network failures, timeouts,
   * truncated or garbled responses, 5xx, 408 (request timeout), 425 and 429 (too many
   * requests). Other 4xx (404, 403 for an expired signature, 416) and bad URLs need a change
   * on the other side first.
   */
  get retryable(): boolean {
    switch (this.code) {
      case 'url':
      case 'unsupported':
      case 'aborted':
        return false;
      case 'status':
        return this.status !== undefined && (this.status >= 500 || this.status === 408 || this.status === 425 || this.status === 429);
      default:
        return true;
    }
  }
}
