/**
 * The globals the XS engine keeps for firmware: those an ESP32 build has. xsnap adds its own
 * (`print`, `TextEncoder`, `harden`, `setImmediate`, `performance`, `gc`, `issueCommand`…),
 * which the device lacks; the prelude removes every global not listed here, so firmware that
 * would fail on the device fails in the simulator too (shared/moddable-notes.md).
 */
export const ESP32_GLOBALS: readonly string[] = [
  // ECMAScript
  'AggregateError', 'Array', 'ArrayBuffer', 'Atomics', 'BigInt', 'BigInt64Array', 'BigUint64Array', 'Boolean',
  'DataView', 'Date', 'Error', 'EvalError', 'FinalizationRegistry', 'Float32Array', 'Float64Array', 'Function',
  'Infinity', 'Int16Array', 'Int32Array', 'Int8Array', 'Iterator', 'JSON', 'Map', 'Math', 'NaN', 'Number', 'Object',
  'Promise', 'Proxy', 'RangeError', 'ReferenceError', 'Reflect', 'RegExp', 'Set', 'SharedArrayBuffer', 'String',
  'Symbol', 'SyntaxError', 'TypeError', 'URIError', 'Uint16Array', 'Uint32Array', 'Uint8Array', 'Uint8ClampedArray',
  'WeakMap', 'WeakRef', 'WeakSet', 'decodeURI', 'decodeURIComponent', 'encodeURI', 'encodeURIComponent', 'escape',
  'eval', 'globalThis', 'isFinite', 'isNaN', 'parseFloat', 'parseInt', 'undefined', 'unescape',
  // XS
  'Compartment', 'ModuleSource', 'TypedArray', 'trace',
];

/** Removes non-device globals and parks xsnap's bridge functions where the firmware entry takes them. */
export function preludeSource(): string {
  return `(function () {
  const g = globalThis;
  const keep = new Set(${JSON.stringify(ESP32_GLOBALS)});
  // The bridge's own plumbing may use xsnap's native text codec; the firmware never sees it.
  const encoder = new g.TextEncoder();
  const decoder = new g.TextDecoder();
  const bridge = {
    issueCommand: g.issueCommand,
    gc: g.gc,
    encodeText: (text) => encoder.encode(text),
    decodeText: (bytes) => decoder.decode(bytes),
  };
  for (const name of Object.getOwnPropertyNames(g)) {
    if (!keep.has(name)) delete g[name];
  }
  const left = Object.getOwnPropertyNames(g).filter((name) => !keep.has(name));
  if (left.length) throw new Error("cannot remove non-ESP32 globals: " + left.join(", "));
  Object.defineProperty(g, "__thingkitBridge", { value: bridge, configurable: true, writable: true });
})();`;
}
