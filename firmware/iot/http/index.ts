/** A minimal HTTP/1.1 client: URL parsing, GET request builder, sans-I/O response parser, and the socket shell. */
export { httpGet } from './client';
export type { HttpGetOptions, HttpHal, HttpRequest, HttpResponseInfo } from './client';
export { HttpError } from './errors';
export type { HttpErrorCode } from './errors';
export { buildGetRequest, getRequestText, MAX_EXTRA_HEADERS } from './request';
export type { GetRequestOptions } from './request';
export { DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_HEADERS, headerValue, HttpResponseParser, MAX_CHUNK_LINE_BYTES, parseContentRange } from './response';
export type { ContentRange, HttpParseEvent, HttpParserOptions, HttpResponseHead } from './response';
export { hostHeader, MAX_URL_LENGTH, parseHttpUrl, resolveLocation, withoutQuery } from './url';
export type { HttpUrl } from './url';
