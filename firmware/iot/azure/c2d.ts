/**
 * Cloud-to-device messages ("Send cloud-to-device messages from an IoT hub"; the MQTT
 * article's "Receiving cloud-to-device messages"): IoT Hub delivers them on
 * `devices/{deviceId}/messages/devicebound/{property_bag}`, where the bag holds the
 * user-settable system properties (`$.mid`, `$.cid`, `$.to`, `$.exp`, ...) and the
 * application properties, URL-encoded; a property whose value is null appears as its name
 * alone, an empty one as `name=`. Subscribing with QoS 1 makes the PUBACK complete the
 * message in IoT Hub (MQTT cannot reject or abandon one).
 */
import { parseC2dTopic } from './topics';
import { parsedOk, type Parsed } from './types';
import type { PropertyEntry } from './url';

/** Properties by name; a null value is a property sent without one. Built without a prototype, so any name is safe. */
export type PropertyMap = { [name: string]: string | null };

export interface C2dMessage {
  deviceId: string;
  payload: Uint8Array;
  /** `$.mid` */
  messageId?: string;
  /** `$.cid` */
  correlationId?: string;
  /** `$.to`: `/devices/{deviceId}/messages/deviceBound` */
  to?: string;
  /** `$.exp`: expiry time, ISO 8601 UTC */
  expiryTimeUtc?: string;
  /** `$.uid` */
  userId?: string;
  /** `$.ct` */
  contentType?: string;
  /** `$.ce` */
  contentEncoding?: string;
  /** `$.ctime` */
  creationTimeUtc?: string;
  /** `iothub-ack`: the feedback the sender asked for (`none`, `positive`, `negative`, `full`). */
  ack?: string;
  /** Every property whose name starts with `$.`, under its name in the bag. */
  system: PropertyMap;
  /** The application properties (names without `$.`, `iothub-ack` excluded). */
  properties: PropertyMap;
  /** All properties in the order of the topic. */
  entries: PropertyEntry[];
}

const SYSTEM_FIELDS: { readonly [name: string]: keyof C2dMessage } = {
  '$.mid': 'messageId',
  '$.cid': 'correlationId',
  '$.to': 'to',
  '$.exp': 'expiryTimeUtc',
  '$.uid': 'userId',
  '$.ct': 'contentType',
  '$.ce': 'contentEncoding',
  '$.ctime': 'creationTimeUtc',
};

function emptyMap(): PropertyMap {
  return Object.create(null) as PropertyMap;
}

/**
 * Parses a C2D message; `no-match` when the topic is not a C2D topic (for `deviceId`, when
 * given), `malformed` when its property bag is broken. Never throws on network input.
 */
export function parseC2dMessage(topic: string, payload: Uint8Array, deviceId?: string): Parsed<C2dMessage> {
  const parsed = parseC2dTopic(topic, deviceId);
  if (!parsed.ok) return parsed;
  const message: C2dMessage = { deviceId: parsed.value.deviceId, payload, system: emptyMap(), properties: emptyMap(), entries: parsed.value.properties };
  for (const { name, value } of parsed.value.properties) {
    if (name.startsWith('$.')) {
      message.system[name] = value;
      const field = SYSTEM_FIELDS[name];
      if (field !== undefined && value !== null) (message as unknown as { [key: string]: string })[field] = value;
    } else if (name === 'iothub-ack') {
      if (value !== null) message.ack = value;
    } else {
      message.properties[name] = value;
    }
  }
  return parsedOk(message);
}
