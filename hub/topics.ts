/**
 * The MQTT topics of the IoT Hub and DPS device protocols ("Communicate with an IoT hub using the MQTT
 * protocol", "Communicate with your DPS using the MQTT protocol", azure-sdk-for-c's az_iot_hub_client_*.c and
 * az_iot_provisioning_client.c), parsed and formatted. Pure functions.
 *
 * Device → hub                                           Hub → device
 *   devices/{id}/messages/events/{property-bag}            devices/{id}/messages/devicebound/{property-bag}
 *   $iothub/twin/GET/?$rid={rid}                           $iothub/twin/res/{status}/?$rid={rid}[&$version={v}]
 *   $iothub/twin/PATCH/properties/reported/?$rid={rid}     $iothub/twin/PATCH/properties/desired/?$version={v}
 *   $iothub/methods/res/{status}/?$rid={rid}               $iothub/methods/POST/{method}/?$rid={rid}
 *   $dps/registrations/PUT/iotdps-register/?$rid={rid}     $dps/registrations/res/{status}/?$rid={rid}[&retry-after={s}]
 *   $dps/registrations/GET/iotdps-get-operationstatus/?$rid={rid}&operationId={op}
 */

/** A property bag: `k=v&k2=v2`, each name and value URL-encoded; a name alone means a null value. */
export type PropertyEntry = [name: string, value: string | null];

function decodeComponent(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Parses a property bag (a leading `?` is tolerated). Empty segments are skipped. */
export function parsePropertyBag(bag: string): PropertyEntry[] {
  const text = bag.startsWith('?') ? bag.slice(1) : bag;
  const entries: PropertyEntry[] = [];
  for (const part of text.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq < 0) entries.push([decodeComponent(part), null]);
    else entries.push([decodeComponent(part.slice(0, eq)), decodeComponent(part.slice(eq + 1))]);
  }
  return entries;
}

/** Formats a property bag as IoT Hub does for cloud-to-device messages: `key` for null, `key=` for "", else `key=value`. */
export function formatPropertyBag(entries: readonly PropertyEntry[]): string {
  return entries.map(([name, value]) => (value === null ? encodeURIComponent(name) : `${encodeURIComponent(name)}=${encodeURIComponent(value)}`)).join('&');
}

/** The query of a `.../?a=b&c=d` topic as a map (first value wins). */
function queryOf(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const [name, value] of parsePropertyBag(text)) if (!map.has(name)) map.set(name, value ?? '');
  return map;
}

/** System properties a device may set on telemetry, by their `$.` names (azure-iot-device-mqtt, az_iot_hub_client_properties). */
export const TELEMETRY_SYSTEM_PROPERTIES: { [key: string]: string } = {
  '$.mid': 'messageId',
  '$.cid': 'correlationId',
  '$.uid': 'userId',
  '$.to': 'to',
  '$.ct': 'contentType',
  '$.ce': 'contentEncoding',
  '$.exp': 'expiryTimeUtc',
  '$.ctime': 'creationTimeUtc',
  '$.ifid': 'interfaceId',
  '$.sub': 'subject',
  '$.on': 'outputName',
};

export type DeviceTopic =
  | { kind: 'telemetry'; properties: { [name: string]: string | null }; systemProperties: { [name: string]: string } }
  | { kind: 'twinGet'; rid: string | undefined }
  | { kind: 'twinPatchReported'; rid: string | undefined; ifVersion?: string }
  | { kind: 'methodResponse'; status: number; rid: string | undefined }
  | { kind: 'dpsRegister'; rid: string | undefined }
  | { kind: 'dpsQuery'; rid: string | undefined; operationId: string | undefined }
  | { kind: 'refused'; reason: string };

/** Splits `{path}/?{query}` (or `{path}?{query}`) into the path before the query and the query. */
function splitQuery(rest: string): { path: string; query: string } {
  const q = rest.indexOf('?');
  if (q < 0) return { path: rest, query: '' };
  return { path: rest.slice(0, q), query: rest.slice(q + 1) };
}

/**
 * What a PUBLISH from an IoT Hub device means, or why it is refused. `deviceId` is the authenticated device:
 * a device publishes only on its own topics.
 */
export function parseHubDevicePublish(topic: string, deviceId: string): DeviceTopic {
  const own = `devices/${deviceId}/`;
  if (topic.startsWith('devices/')) {
    if (!topic.startsWith(own)) return { kind: 'refused', reason: `a device may publish only on devices/${deviceId}/..., not on another device's topic "${topic}"` };
    const rest = topic.slice(own.length);
    if (rest === 'messages/events' || rest.startsWith('messages/events/')) {
      const bag = rest.slice('messages/events/'.length);
      const properties: { [name: string]: string | null } = {};
      const systemProperties: { [name: string]: string } = {};
      for (const [name, value] of parsePropertyBag(bag)) {
        if (name.startsWith('$.')) systemProperties[TELEMETRY_SYSTEM_PROPERTIES[name] ?? name] = value ?? '';
        else properties[name] = value;
      }
      return { kind: 'telemetry', properties, systemProperties };
    }
    if (rest.startsWith('modules/')) return { kind: 'refused', reason: 'module identities are not supported by the local hub: publish as the device' };
    return { kind: 'refused', reason: `"${topic}" is not a topic a device may publish on: telemetry goes to devices/${deviceId}/messages/events/` };
  }
  if (topic.startsWith('$iothub/')) {
    const { path, query } = splitQuery(topic);
    const params = queryOf(query);
    const rid = params.get('$rid');
    if (path === '$iothub/twin/GET/' || path === '$iothub/twin/GET') return { kind: 'twinGet', rid };
    if (path === '$iothub/twin/PATCH/properties/reported/' || path === '$iothub/twin/PATCH/properties/reported') {
      return { kind: 'twinPatchReported', rid, ifVersion: params.get('$version') };
    }
    const method = /^\$iothub\/methods\/res\/([^/]+)\/?$/.exec(path);
    if (method) {
      if (!/^-?\d{1,9}$/.test(method[1])) return { kind: 'refused', reason: `the status in "${topic}" must be an integer, as in $iothub/methods/res/200/?$rid={request id}` };
      return { kind: 'methodResponse', status: Number(method[1]), rid };
    }
    return { kind: 'refused', reason: `"${topic}" is not a topic a device may publish on (see Azure's MQTT topic list: $iothub/twin/GET, $iothub/twin/PATCH/properties/reported, $iothub/methods/res)` };
  }
  if (topic.startsWith('$dps/')) return { kind: 'refused', reason: 'this connection authenticated to the IoT hub, not to DPS: provisioning requests need a DPS connection' };
  return { kind: 'refused', reason: `"${topic}" is not an IoT Hub topic: devices publish on devices/${deviceId}/messages/events/ and $iothub/...` };
}

/** What a PUBLISH on a DPS connection means, or why it is refused. */
export function parseDpsPublish(topic: string): DeviceTopic {
  const { path, query } = splitQuery(topic);
  const params = queryOf(query);
  const rid = params.get('$rid');
  if (path === '$dps/registrations/PUT/iotdps-register/' || path === '$dps/registrations/PUT/iotdps-register') return { kind: 'dpsRegister', rid };
  if (path === '$dps/registrations/GET/iotdps-get-operationstatus/' || path === '$dps/registrations/GET/iotdps-get-operationstatus') {
    return { kind: 'dpsQuery', rid, operationId: params.get('operationId') };
  }
  return { kind: 'refused', reason: `"${topic}" is not a DPS topic: register on $dps/registrations/PUT/iotdps-register/?$rid={rid} and poll on $dps/registrations/GET/iotdps-get-operationstatus/?$rid={rid}&operationId={id}` };
}

/** Whether a device may subscribe to `filter`: the documented filters only ("IoT Hub only supports the documented topic names and topic filters"). */
export function hubSubscriptionAllowed(filter: string, deviceId: string): { ok: true } | { ok: false; reason: string } {
  const allowed = [`devices/${deviceId}/messages/devicebound/#`, '$iothub/twin/res/#', '$iothub/twin/PATCH/properties/desired/#', '$iothub/methods/POST/#'];
  if (allowed.includes(filter)) return { ok: true };
  // One method at a time ("consider subscribing to $iothub/methods/POST/# rather than to each method").
  if (/^\$iothub\/methods\/POST\/[^/#+]+\/#$/.test(filter)) return { ok: true };
  if (filter.startsWith('devices/') && !filter.startsWith(`devices/${deviceId}/`)) {
    return { ok: false, reason: `a device may subscribe only to its own topics (devices/${deviceId}/...), not to "${filter}"` };
  }
  return { ok: false, reason: `"${filter}" is not a topic filter IoT Hub supports; use one of ${allowed.join(', ')}` };
}

export function dpsSubscriptionAllowed(filter: string): { ok: true } | { ok: false; reason: string } {
  if (filter === '$dps/registrations/res/#') return { ok: true };
  return { ok: false, reason: `"${filter}" is not a topic filter DPS supports; subscribe to $dps/registrations/res/#` };
}

/** MQTT topic filter matching (`+` one level, `#` the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

// ---- hub → device topics ----

export function twinResponseTopic(status: number, rid: string, version?: number): string {
  return `$iothub/twin/res/${status}/?$rid=${encodeURIComponent(rid)}${version === undefined ? '' : `&$version=${version}`}`;
}

export function desiredPatchTopic(version: number): string {
  return `$iothub/twin/PATCH/properties/desired/?$version=${version}`;
}

export function methodRequestTopic(methodName: string, rid: string): string {
  return `$iothub/methods/POST/${methodName}/?$rid=${encodeURIComponent(rid)}`;
}

export function c2dTopic(deviceId: string, properties: readonly PropertyEntry[]): string {
  return `devices/${deviceId}/messages/devicebound/${formatPropertyBag(properties)}`;
}

export function dpsResponseTopic(status: number, rid: string, retryAfterSeconds?: number): string {
  return `$dps/registrations/res/${status}/?$rid=${encodeURIComponent(rid)}${retryAfterSeconds === undefined ? '' : `&retry-after=${retryAfterSeconds}`}`;
}

// ---- CONNECT user names ----

export type HubUsername =
  | { ok: true; hostName: string; deviceId: string; query: Map<string, string> }
  | { ok: false; reason: string };

/**
 * `{hubHost}/{deviceId}/?api-version=...` as Azure documents it, and `{hubHost}/{deviceId}/api-version=...&DeviceClientType=...`
 * as azure-iot-device-mqtt sends it (no `?`); `{hubHost}/{deviceId}` alone is accepted too.
 */
export function parseHubUsername(username: string | undefined): HubUsername {
  if (!username) return { ok: false, reason: 'no user name: use {hub host name}/{device id}/?api-version=2021-04-12' };
  const slash = username.indexOf('/');
  if (slash <= 0) return { ok: false, reason: `user name "${username}" is not {hub host name}/{device id}/?api-version=2021-04-12` };
  const hostName = username.slice(0, slash);
  const rest = username.slice(slash + 1);
  const next = rest.indexOf('/');
  const deviceId = next < 0 ? rest : rest.slice(0, next);
  if (!deviceId) return { ok: false, reason: `user name "${username}" has no device id: use {hub host name}/{device id}/?api-version=2021-04-12` };
  const tail = next < 0 ? '' : rest.slice(next + 1);
  if (tail === '' || tail.startsWith('?') || tail.startsWith('api-version=')) {
    return { ok: true, hostName, deviceId, query: queryOf(tail.startsWith('?') ? tail.slice(1) : tail) };
  }
  return { ok: false, reason: `user name "${username}" names a module or has extra path segments ("${tail}"); the local hub supports device identities: {hub host name}/{device id}/?api-version=2021-04-12` };
}

export type DpsUsername = { ok: true; idScope: string; registrationId: string; query: Map<string, string> } | { ok: false; reason: string };

/** `{idScope}/registrations/{registrationId}/api-version=2019-03-31[&ClientVersion=...]`. */
export function parseDpsUsername(username: string | undefined): DpsUsername {
  const match = /^([^/]+)\/registrations\/([^/]+)(?:\/(.*))?$/.exec(username ?? '');
  if (!match) return { ok: false, reason: `user name "${username ?? ''}" is not {idScope}/registrations/{registrationId}/api-version=2019-03-31` };
  const tail = match[3] ?? '';
  return { ok: true, idScope: match[1], registrationId: match[2], query: queryOf(tail.startsWith('?') ? tail.slice(1) : tail) };
}

/** Whether a CONNECT user name is a DPS one (`{idScope}/registrations/...`). */
export function isDpsUsername(username: string | undefined): boolean {
  return !!username && /^[^/]+\/registrations\//.test(username);
}
