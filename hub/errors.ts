/**
 * Errors of the local hub. Each carries the HTTP status IoT Hub uses for the same condition, IoT Hub's
 * numeric error code (status × 1000 + detail, as in "IoT Hub API common error codes"), a message saying
 * what was wrong, and a hint saying what to do about it. The HTTP API and the MQTT front both turn a
 * HubError into a JSON body `{ errorCode, message, hint }`; azure-iot-device treats any twin response
 * whose body has an `errorCode` as a failure, whatever the status in the topic.
 */
export const ErrorCodes = {
  /** The body of the request is not valid: it cannot be parsed, or it fails validation. */
  ArgumentInvalid: 400004,
  /** The authorization token cannot be validated (expired, wrong signature, wrong resource). */
  IotHubUnauthorized: 401003,
  /** Too many cloud-to-device messages are waiting for the device (IoT Hub keeps at most 50). */
  DeviceMaximumQueueDepthExceeded: 403004,
  /** A twin section would grow past its size limit ("'Properties.Reported' size should be less than 32768 bytes."). */
  TwinSizeExceeded: 403100,
  DeviceNotFound: 404001,
  DeviceNotOnline: 404103,
  NotFound: 404000,
  DeviceAlreadyExists: 409001,
  Conflict: 409000,
  PreconditionFailed: 412001,
  RequestTooLarge: 413000,
  UnsupportedMediaType: 415000,
  ServerError: 500001,
  GatewayTimeout: 504101,
} as const;

export class HubError extends Error {
  constructor(
    /** HTTP status (also the status of MQTT twin/DPS responses). */
    readonly status: number,
    /** IoT Hub style error code, e.g. 404001. */
    readonly errorCode: number,
    message: string,
    /** What to do about it. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'HubError';
  }

  toJSON(): { errorCode: number; message: string; hint?: string } {
    return this.hint ? { errorCode: this.errorCode, message: this.message, hint: this.hint } : { errorCode: this.errorCode, message: this.message };
  }
}

export function badRequest(message: string, hint?: string): HubError {
  return new HubError(400, ErrorCodes.ArgumentInvalid, message, hint);
}

export function deviceNotFound(deviceId: string): HubError {
  return new HubError(404, ErrorCodes.DeviceNotFound, `device "${deviceId}" is not registered`, `create it first: thingkit hub device create ${deviceId}`);
}

export function notFound(what: string, hint?: string): HubError {
  return new HubError(404, ErrorCodes.NotFound, `${what} does not exist`, hint);
}

export function conflict(message: string, hint?: string, errorCode: number = ErrorCodes.Conflict): HubError {
  return new HubError(409, errorCode, message, hint);
}

/** Any error as a HubError: unexpected errors become 500s (their message kept, so nothing is hidden from the developer). */
export function asHubError(error: unknown): HubError {
  if (error instanceof HubError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new HubError(500, ErrorCodes.ServerError, `internal error: ${message}`, 'this is a bug in the local hub: please report it with the request that caused it');
}
