/** Over-the-air updates: the signed manifest, the sans-I/O agent and its HAL shell. */
export { OTA_KV_DOMAIN, OTA_KV_KEYS, OtaAgent } from './agent';
export type { AgentPorts, AgentWriter, FetchFailure, FetchResponse, OtaAction, OtaAgentOptions, OtaOutput, OtaRequestResult, OtaState, OtaStatus } from './agent';
export { canonicalJson, canonicalManifest, ManifestError, MANIFEST_KEYS, manifestProblems, MAX_ENVELOPE_CHARS, parseEnvelope, publicKeyProblem, validateManifest, verifyEnvelopeSignature } from './manifest';
export type { ManifestEnvelope, UpdateManifest } from './manifest';
export { OtaService } from './ota-service';
export type { OtaServiceOptions } from './ota-service';
export { OTA_PUBLIC_KEY } from './public-key';
export { DEFAULT_RETRY_POLICY, retryDelay } from './retry';
export type { RetryPolicy } from './retry';
export { compareSemVer, compareVersions, parseSemVer } from './semver';
export type { SemVer } from './semver';
