/**
 * MQTT 3.1.1 control packets as plain objects. The codec handles every packet a client sends
 * or receives, in both directions (so tests can play the broker). QoS 2 delivery is not
 * implemented: PUBLISH with QoS 2 and PUBREC/PUBREL/PUBCOMP are rejected as protocol errors.
 */

/** Delivery QoS this toolkit implements for PUBLISH. */
export type PublishQoS = 0 | 1;
/** QoS as it appears in fields the codec passes through (will, subscription requests, grants). */
export type QoS = 0 | 1 | 2;

/** SUBACK per-filter result: the granted QoS, or 0x80 for failure. */
export type SubackReturnCode = 0 | 1 | 2 | 0x80;
export const SUBACK_FAILURE = 0x80;

/** CONNACK return codes: 0 accepted, 1..5 refusals (MQTT 3.1.1 table 3.1). */
export type ConnackReturnCode = 0 | 1 | 2 | 3 | 4 | 5;

/** Why a broker refused a connection, by CONNACK return code. */
export const CONNACK_REFUSAL_REASONS: { readonly [code: number]: string } = {
  1: 'unacceptable protocol version',
  2: 'identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
};

export interface Will {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
}

export interface ConnectPacket {
  type: 'connect';
  clientId: string;
  cleanSession: boolean;
  /** 0 disables keepalive; at most 65535. */
  keepAliveSeconds: number;
  username?: string;
  /** Only allowed together with a username [MQTT-3.1.2-22]. */
  password?: Uint8Array;
  will?: Will;
}

export interface ConnackPacket {
  type: 'connack';
  sessionPresent: boolean;
  returnCode: ConnackReturnCode;
}

export interface PublishPacket {
  type: 'publish';
  topic: string;
  payload: Uint8Array;
  qos: PublishQoS;
  retain: boolean;
  dup: boolean;
  /** Present exactly when qos is 1. */
  packetId?: number;
}

export interface PubackPacket {
  type: 'puback';
  packetId: number;
}

export interface Subscription {
  filter: string;
  qos: QoS;
}

export interface SubscribePacket {
  type: 'subscribe';
  packetId: number;
  subscriptions: Subscription[];
}

export interface SubackPacket {
  type: 'suback';
  packetId: number;
  returnCodes: SubackReturnCode[];
}

export interface UnsubscribePacket {
  type: 'unsubscribe';
  packetId: number;
  filters: string[];
}

export interface UnsubackPacket {
  type: 'unsuback';
  packetId: number;
}

export interface PingreqPacket {
  type: 'pingreq';
}

export interface PingrespPacket {
  type: 'pingresp';
}

export interface DisconnectPacket {
  type: 'disconnect';
}

export type MqttPacket =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | PubackPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | UnsubackPacket
  | PingreqPacket
  | PingrespPacket
  | DisconnectPacket;

export type MqttPacketType = MqttPacket['type'];

/** Control packet type numbers (the fixed header's high nibble). */
export const PACKET_TYPE_CODES: { readonly [type in MqttPacketType]: number } = {
  connect: 1,
  connack: 2,
  publish: 3,
  puback: 4,
  subscribe: 8,
  suback: 9,
  unsubscribe: 10,
  unsuback: 11,
  pingreq: 12,
  pingresp: 13,
  disconnect: 14,
};

/** Protocol name and level that identify MQTT 3.1.1 in CONNECT. */
export const PROTOCOL_NAME = 'MQTT';
export const PROTOCOL_LEVEL = 4;
