/**
 * MQTT identities and topics of Azure IoT Hub and of the Device Provisioning Service (DPS),
 * as Azure documents them:
 * - "Communicate with an IoT hub using the MQTT protocol" (learn.microsoft.com, article
 *   iot/iot-mqtt-connect-to-iot-hub): client id, user name with api-version 2021-04-12,
 *   telemetry, C2D, twin, direct methods, module identities;
 * - "Communicate with your DPS using the MQTT protocol" (iot-dps/iot-dps-mqtt-support):
 *   user name with api-version 2019-03-31, register, poll, responses with retry-after;
 * - azure-sdk-for-c (az_iot_hub_client*.c, az_iot_provisioning_client.c) for the details the
 *   articles leave out: `&model-id=` in the user name, the message property names.
 *
 * Builders throw AzureError on arguments IoT Hub would refuse (a local mistake); parsers
 * take topics from the network and never throw: they return `Parsed` results.
 */
import { encodePropertyBag, findParameter, parseDecimal, parsePropertyBag, parseQuery, percentEncode, type PropertyEntry } from './url';
import { AzureError, malformed, noMatch, parsedOk, type Parsed } from './types';

/** api-version for IoT Hub's MQTT user name. */
export const HUB_API_VERSION = '2021-04-12';
/** api-version for DPS's MQTT user name. */
export const DPS_API_VERSION = '2019-03-31';

/** Who connects to IoT Hub: the hub's host name (`contoso.azure-devices.net`), the device, optionally a module. */
export interface HubIdentity {
  hostName: string;
  deviceId: string;
  moduleId?: string;
  /** IoT Plug and Play model id (`dtmi:com:example:Thermostat;1`), announced in the user name. */
  modelId?: string;
}

/** Device and module ids: 1-128 ASCII letters, digits and `- . + % _ # * ? ! ( ) , : = @ $ '` (IoT Hub's identity registry rules). */
const ID_PATTERN = /^[A-Za-z0-9\-.+%_#*?!(),:=@$']{1,128}$/;

/** Throws AzureError unless `id` is a device or module id IoT Hub accepts and an MQTT topic level can carry. */
export function checkIdentifier(id: string, what: string): void {
  if (!ID_PATTERN.test(id)) {
    throw new AzureError(
      'invalid-argument',
      `${what} "${id}" must be 1 to 128 ASCII letters, digits or - . + % _ # * ? ! ( ) , : = @ $ ' (IoT Hub identity rules)`,
    );
  }
  if (id.includes('+') || id.includes('#')) {
    throw new AzureError('invalid-argument', `${what} "${id}" contains + or #, which are wildcards in MQTT and cannot appear in a topic name`);
  }
}

function checkIdentity(identity: HubIdentity): void {
  if (identity.hostName.length === 0 || identity.hostName.includes('/')) {
    throw new AzureError('invalid-argument', `IoT Hub host name "${identity.hostName}" must be a host name such as contoso.azure-devices.net`);
  }
  checkIdentifier(identity.deviceId, 'device id');
  if (identity.moduleId !== undefined) checkIdentifier(identity.moduleId, 'module id');
}

// ---- connecting to IoT Hub ----

/** MQTT client id: the device id, or `{deviceId}/{moduleId}` for a module. */
export function hubClientId(identity: HubIdentity): string {
  checkIdentity(identity);
  return identity.moduleId === undefined ? identity.deviceId : `${identity.deviceId}/${identity.moduleId}`;
}

/**
 * MQTT user name: `{hostName}/{deviceId}/?api-version=2021-04-12`, with `/{moduleId}` after the
 * device id for a module and `&model-id={url-encoded model id}` for IoT Plug and Play.
 */
export function hubUsername(identity: HubIdentity): string {
  checkIdentity(identity);
  const who = identity.moduleId === undefined ? identity.deviceId : `${identity.deviceId}/${identity.moduleId}`;
  const model = identity.modelId === undefined ? '' : `&model-id=${percentEncode(identity.modelId)}`;
  return `${identity.hostName}/${who}/?api-version=${HUB_API_VERSION}${model}`;
}

// ---- device-to-cloud messages ----

/** System properties a device may set on a device-to-cloud message. */
export interface MessageSystemProperties {
  /** `$.mid` */
  messageId?: string;
  /** `$.cid` */
  correlationId?: string;
  /** `$.ct`: `application/json` lets IoT Hub route on the body (with `contentEncoding`). */
  contentType?: string;
  /** `$.ce`: `utf-8`, `utf-16`, `utf-32`. */
  contentEncoding?: string;
  /** `$.ctime`: creation time, ISO 8601 UTC. */
  creationTimeUtc?: string;
  /** `$.uid` */
  userId?: string;
  /** `$.exp`: expiry time, ISO 8601 UTC. */
  expiryTimeUtc?: string;
  /** `$.sub`: IoT Plug and Play component name. */
  componentName?: string;
}

/** Property name in the bag of each system property. */
export const SYSTEM_PROPERTY_NAMES: { readonly [key in keyof MessageSystemProperties]-?: string } = {
  messageId: '$.mid',
  correlationId: '$.cid',
  contentType: '$.ct',
  contentEncoding: '$.ce',
  creationTimeUtc: '$.ctime',
  userId: '$.uid',
  expiryTimeUtc: '$.exp',
  componentName: '$.sub',
};

const SYSTEM_PROPERTY_ORDER = Object.keys(SYSTEM_PROPERTY_NAMES) as (keyof MessageSystemProperties)[];

function topicBase(identity: HubIdentity): string {
  checkIdentity(identity);
  return identity.moduleId === undefined ? `devices/${identity.deviceId}` : `devices/${identity.deviceId}/modules/${identity.moduleId}`;
}

/**
 * Telemetry topic: `devices/{deviceId}/messages/events/{property_bag}` (a module:
 * `devices/{deviceId}/modules/{moduleId}/messages/events/...`). System properties come first
 * under their `$.` names, then the application properties, all URL-encoded (`$.ct=...` is
 * written `%24.ct=...`, as both Azure SDKs write it). Application property names must not
 * start with `$`, which IoT Hub keeps for system properties.
 */
export function telemetryTopic(
  identity: HubIdentity,
  system: MessageSystemProperties = {},
  application: Readonly<Record<string, string>> | readonly PropertyEntry[] = {},
): string {
  const entries: PropertyEntry[] = [];
  for (const key of SYSTEM_PROPERTY_ORDER) {
    const value = system[key];
    if (value !== undefined) entries.push({ name: SYSTEM_PROPERTY_NAMES[key], value });
  }
  const applicationEntries: readonly PropertyEntry[] = Array.isArray(application)
    ? (application as readonly PropertyEntry[])
    : Object.keys(application).map((name) => ({ name, value: (application as Readonly<Record<string, string>>)[name] }));
  for (const entry of applicationEntries) {
    if (entry.name.length === 0) throw new AzureError('invalid-argument', 'an application property needs a non-empty name');
    if (entry.name.startsWith('$')) {
      throw new AzureError('invalid-argument', `application property "${entry.name}" starts with $, which IoT Hub keeps for system properties`);
    }
    entries.push(entry);
  }
  return `${topicBase(identity)}/messages/events/${encodePropertyBag(entries)}`;
}

// ---- cloud-to-device messages ----

/** Subscription for C2D messages: `devices/{deviceId}/messages/devicebound/#`. */
export function c2dSubscribeFilter(identity: Pick<HubIdentity, 'deviceId'>): string {
  checkIdentifier(identity.deviceId, 'device id');
  return `devices/${identity.deviceId}/messages/devicebound/#`;
}

export interface C2dTopic {
  deviceId: string;
  properties: PropertyEntry[];
}

const DEVICEBOUND = '/messages/devicebound';

/**
 * Parses `devices/{deviceId}/messages/devicebound/{property_bag}` (the bag may be empty or
 * start with `?`). With `deviceId`, a topic for another device is `no-match`.
 */
export function parseC2dTopic(topic: string, deviceId?: string): Parsed<C2dTopic> {
  if (!topic.startsWith('devices/')) return noMatch(`"${topic}" is not a C2D topic`);
  const at = topic.indexOf(DEVICEBOUND, 'devices/'.length);
  if (at < 0) return noMatch(`"${topic}" is not a C2D topic (no ${DEVICEBOUND})`);
  const topicDevice = topic.slice('devices/'.length, at);
  if (topicDevice.length === 0 || topicDevice.includes('/')) return malformed(`C2D topic "${topic}" does not name one device`);
  if (deviceId !== undefined && topicDevice !== deviceId) return noMatch(`C2D topic "${topic}" is for device ${topicDevice}, not ${deviceId}`);
  const rest = topic.slice(at + DEVICEBOUND.length);
  if (rest.length > 0 && !rest.startsWith('/')) return noMatch(`"${topic}" is not a C2D topic`);
  const bag = parsePropertyBag(rest.slice(1));
  if (!bag.ok) return malformed(`C2D topic "${topic}": ${bag.error.message}`);
  return parsedOk({ deviceId: topicDevice, properties: bag.value });
}

// ---- device twin ----

/** Responses to GET and PATCH requests arrive here. */
export const TWIN_RESPONSE_FILTER = '$iothub/twin/res/#';
/** Desired-property notifications arrive here. */
export const TWIN_DESIRED_FILTER = '$iothub/twin/PATCH/properties/desired/#';

const TWIN_RES_PREFIX = '$iothub/twin/res/';
const TWIN_DESIRED_PREFIX = '$iothub/twin/PATCH/properties/desired/';

/** Request ids this toolkit sends: non-empty, URL-safe (they go into topics unencoded). */
function checkRequestId(requestId: string): void {
  if (!/^[A-Za-z0-9\-._~]{1,64}$/.test(requestId)) {
    throw new AzureError('invalid-argument', `request id "${requestId}" must be 1 to 64 letters, digits or - . _ ~`);
  }
}

/** `$iothub/twin/GET/?$rid={rid}` (empty payload). */
export function twinGetTopic(requestId: string): string {
  checkRequestId(requestId);
  return `$iothub/twin/GET/?$rid=${requestId}`;
}

/** `$iothub/twin/PATCH/properties/reported/?$rid={rid}` (payload: the JSON patch). */
export function twinPatchTopic(requestId: string): string {
  checkRequestId(requestId);
  return `$iothub/twin/PATCH/properties/reported/?$rid=${requestId}`;
}

export type TwinTopic =
  /** `$iothub/twin/res/{status}/?$rid={rid}[&$version={v}]` (204 to a PATCH carries the new reported version). */
  | { kind: 'response'; status: number; requestId: string; version: number | undefined }
  /** `$iothub/twin/PATCH/properties/desired/?$version={v}` */
  | { kind: 'desired'; version: number };

/** `{status}/?query` after a response prefix: the status and the query parameters. */
function splitStatus(rest: string, topic: string): Parsed<{ status: number; query: string }> {
  const slash = rest.indexOf('/');
  const statusText = slash < 0 ? rest : rest.slice(0, slash);
  if (!/^[0-9]{3}$/.test(statusText)) return malformed(`"${topic}": the status "${statusText}" is not a three-digit number`);
  if (slash < 0 || rest[slash + 1] !== '?') return malformed(`"${topic}": no "/?" and query after the status`);
  return parsedOk({ status: Number(statusText), query: rest.slice(slash + 2) });
}

export function parseTwinTopic(topic: string): Parsed<TwinTopic> {
  if (topic.startsWith(TWIN_RES_PREFIX)) {
    const split = splitStatus(topic.slice(TWIN_RES_PREFIX.length), topic);
    if (!split.ok) return split;
    const query = parseQuery(split.value.query);
    if (!query.ok) return malformed(`"${topic}": ${query.error.message}`);
    const rid = findParameter(query.value, '$rid');
    if (rid === undefined || rid.raw === null || rid.raw.length === 0) return malformed(`twin response "${topic}" has no $rid`);
    const versionParameter = findParameter(query.value, '$version');
    const version = versionParameter === undefined ? undefined : parseDecimal(versionParameter.value);
    if (versionParameter !== undefined && version === undefined) return malformed(`twin response "${topic}": $version is not a number`);
    return parsedOk({ kind: 'response', status: split.value.status, requestId: rid.raw, version });
  }
  if (topic.startsWith(TWIN_DESIRED_PREFIX)) {
    const rest = topic.slice(TWIN_DESIRED_PREFIX.length);
    if (!rest.startsWith('?')) return malformed(`desired-property notification "${topic}" has no "?$version="`);
    const query = parseQuery(rest.slice(1));
    if (!query.ok) return malformed(`"${topic}": ${query.error.message}`);
    const versionParameter = findParameter(query.value, '$version');
    const version = parseDecimal(versionParameter?.value);
    if (version === undefined) return malformed(`desired-property notification "${topic}" has no numeric $version`);
    return parsedOk({ kind: 'desired', version });
  }
  return noMatch(`"${topic}" is not a twin topic`);
}

// ---- direct methods ----

/** Method requests arrive here. */
export const METHODS_FILTER = '$iothub/methods/POST/#';
const METHODS_PREFIX = '$iothub/methods/POST/';

export interface MethodTopic {
  name: string;
  /** Exactly as in the topic: it goes back unchanged in the response topic. */
  requestId: string;
}

/** Parses `$iothub/methods/POST/{method name}/?$rid={rid}`. */
export function parseMethodTopic(topic: string): Parsed<MethodTopic> {
  if (!topic.startsWith(METHODS_PREFIX)) return noMatch(`"${topic}" is not a method request topic`);
  const rest = topic.slice(METHODS_PREFIX.length);
  const at = rest.indexOf('/?');
  if (at < 0) return malformed(`method request "${topic}" has no "/?$rid=" after the method name`);
  const name = rest.slice(0, at);
  if (name.length === 0) return malformed(`method request "${topic}" has no method name`);
  if (name.includes('/')) return malformed(`method request "${topic}": the method name contains "/"`);
  const query = parseQuery(rest.slice(at + 2));
  if (!query.ok) return malformed(`"${topic}": ${query.error.message}`);
  const rid = findParameter(query.value, '$rid');
  if (rid === undefined || rid.raw === null || rid.raw.length === 0) return malformed(`method request "${topic}" has no $rid`);
  return parsedOk({ name, requestId: rid.raw });
}

/** `$iothub/methods/res/{status}/?$rid={rid}`; `status` is an integer from 0 to 65535 (azure-sdk-for-c takes a uint16). */
export function methodResponseTopic(status: number, requestId: string): string {
  if (!Number.isInteger(status) || status < 0 || status > 65_535) {
    throw new AzureError('invalid-argument', `method status ${status} must be an integer from 0 to 65535 (200 for success, by convention)`);
  }
  if (requestId.length === 0 || /[/+#]/.test(requestId)) throw new AzureError('invalid-argument', `request id "${requestId}" cannot go into a topic`);
  return `$iothub/methods/res/${status}/?$rid=${requestId}`;
}

// ---- Device Provisioning Service ----

/** The global DPS endpoint. */
export const DPS_GLOBAL_ENDPOINT = 'global.azure-devices-provisioning.net';
/** Responses to register and poll requests arrive here. */
export const DPS_RESPONSE_FILTER = '$dps/registrations/res/#';

/** Registration ids: 1-128 of letters, digits and `- . _ :`, ending in a letter, digit or `-` (case-insensitive in DPS). */
export function checkRegistrationId(registrationId: string): void {
  if (!/^[A-Za-z0-9\-._:]{0,127}[A-Za-z0-9-]$/.test(registrationId)) {
    throw new AzureError(
      'invalid-argument',
      `registration id "${registrationId}" must be 1 to 128 letters, digits or - . _ : and end in a letter, digit or -`,
    );
  }
}

/** DPS client id: the registration id. */
export function dpsClientId(registrationId: string): string {
  checkRegistrationId(registrationId);
  return registrationId;
}

/** DPS user name: `{idScope}/registrations/{registrationId}/api-version=2019-03-31`. */
export function dpsUsername(idScope: string, registrationId: string): string {
  if (!/^[A-Za-z0-9]{1,64}$/.test(idScope)) throw new AzureError('invalid-argument', `DPS ID scope "${idScope}" must be letters and digits (such as 0ne00000A0A)`);
  checkRegistrationId(registrationId);
  return `${idScope}/registrations/${registrationId}/api-version=${DPS_API_VERSION}`;
}

/** `$dps/registrations/PUT/iotdps-register/?$rid={rid}` (payload: the DeviceRegistration JSON). */
export function dpsRegisterTopic(requestId: string): string {
  checkRequestId(requestId);
  return `$dps/registrations/PUT/iotdps-register/?$rid=${requestId}`;
}

/** `$dps/registrations/GET/iotdps-get-operationstatus/?$rid={rid}&operationId={operationId}` (URL-encoded; DPS's ids need no encoding). */
export function dpsPollTopic(requestId: string, operationId: string): string {
  checkRequestId(requestId);
  if (operationId.length === 0) throw new AzureError('invalid-argument', 'the DPS operation id is empty');
  return `$dps/registrations/GET/iotdps-get-operationstatus/?$rid=${requestId}&operationId=${percentEncode(operationId)}`;
}

export interface DpsResponseTopic {
  status: number;
  requestId: string;
  /** `retry-after`, in seconds, when present. */
  retryAfterSeconds: number | undefined;
}

const DPS_RES_PREFIX = '$dps/registrations/res/';

/** Parses `$dps/registrations/res/{status}/?$rid={rid}[&retry-after={s}]` (parameters in any order). */
export function parseDpsTopic(topic: string): Parsed<DpsResponseTopic> {
  if (!topic.startsWith(DPS_RES_PREFIX)) return noMatch(`"${topic}" is not a DPS response topic`);
  const split = splitStatus(topic.slice(DPS_RES_PREFIX.length), topic);
  if (!split.ok) return split;
  const query = parseQuery(split.value.query);
  if (!query.ok) return malformed(`"${topic}": ${query.error.message}`);
  const rid = findParameter(query.value, '$rid');
  if (rid === undefined || rid.raw === null || rid.raw.length === 0) return malformed(`DPS response "${topic}" has no $rid`);
  const retryParameter = findParameter(query.value, 'retry-after');
  const retryAfterSeconds = retryParameter === undefined ? undefined : parseDecimal(retryParameter.value);
  if (retryParameter !== undefined && retryAfterSeconds === undefined) return malformed(`DPS response "${topic}": retry-after is not a number of seconds`);
  return parsedOk({ status: split.value.status, requestId: rid.raw, retryAfterSeconds });
}
