/** Azure IoT Hub device protocol: sans-I/O cores (topics, SAS, twin, methods, C2D, DPS) and their shells. */
export { parseC2dMessage } from './c2d';
export type { C2dMessage, PropertyMap } from './c2d';
export { DpsRegistration } from './dps';
export type { DpsAssignment, DpsError, DpsErrorCode, DpsEvent, DpsOutput, DpsRegistrationOptions, DpsState } from './dps';
export { DpsClient, DpsProvisioningError, provisionDevice } from './dps-client';
export type { DpsAuth, DpsClientOptions } from './dps-client';
export { halCodec } from './hal-codec';
export { AzureHubClient, HUB_DEFAULT_MAX_INCOMING_PACKET } from './hub-client';
export type {
  AzureHubClientOptions,
  AzureHubSasAuth,
  AzureHubX509Auth,
  C2dHandler,
  ConnectionHandler,
  DesiredHandler,
  PublishedHandler,
  ReportedHandler,
  TwinErrorHandler,
  TwinHandler,
} from './hub-client';
export { checkTelemetrySize, MAX_D2C_MESSAGE_BYTES } from './limits';
export { badRequestReply, MAX_METHOD_PAYLOAD_BYTES, methodResponse, MethodRegistry, parseMethodRequest } from './methods';
export type { MethodHandler, MethodRegistryOptions, MethodReply, MethodRequest, MethodRequestErrorCode, MethodResult, ParsedMethodRequest } from './methods';
export { deriveGroupDeviceKey, DPS_SAS_POLICY, dpsSasResource, generateSasToken, hubSasResource, parseSasToken, sasStringToSign, signBase64, verifySasToken } from './sas';
export type { ParsedSasToken, SasTokenOptions } from './sas';
export {
  c2dSubscribeFilter,
  checkIdentifier,
  checkRegistrationId,
  DPS_API_VERSION,
  DPS_GLOBAL_ENDPOINT,
  DPS_RESPONSE_FILTER,
  dpsClientId,
  dpsPollTopic,
  dpsRegisterTopic,
  dpsUsername,
  HUB_API_VERSION,
  hubClientId,
  hubUsername,
  methodResponseTopic,
  METHODS_FILTER,
  parseC2dTopic,
  parseDpsTopic,
  parseMethodTopic,
  parseTwinTopic,
  SYSTEM_PROPERTY_NAMES,
  telemetryTopic,
  TWIN_DESIRED_FILTER,
  TWIN_RESPONSE_FILTER,
  twinGetTopic,
  twinPatchTopic,
} from './topics';
export type { C2dTopic, DpsResponseTopic, HubIdentity, MessageSystemProperties, MethodTopic, TwinTopic } from './topics';
export {
  applyTwinPatch,
  checkTwinPatch,
  MAX_REPORTED_PATCH_BYTES,
  MAX_TWIN_DEPTH,
  MAX_TWIN_STRING_BYTES,
  PNP_ACK_BAD_REQUEST,
  PNP_ACK_COMPLETED,
  PNP_ACK_ERROR,
  PNP_ACK_PENDING,
  TwinSync,
  writableProperties,
  writablePropertyAck,
} from './twin';
export type { TwinError, TwinErrorCode, TwinEvent, TwinOutput, TwinSyncOptions } from './twin';
export { AzureError, isJsonObject } from './types';
export type { AzureCodec, AzureCrypto, AzureErrorCode, AzurePublish, AzureText, JsonObject, JsonValue, Parsed, TopicError } from './types';
export { encodePropertyBag, MAX_PROPERTY_BAG_ENTRIES, parsePropertyBag, percentDecode, percentEncode } from './url';
export type { PropertyEntry } from './url';
