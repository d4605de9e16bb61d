/**
 * Topic names (what PUBLISH carries) and topic filters (what SUBSCRIBE carries), per
 * MQTT 3.1.1 section 4.7. The checks return a description of the problem, or undefined.
 */
import { utf8Length } from '../../codec/utf8';

/** Every MQTT string, topics included, is at most this many UTF-8 bytes. */
export const MAX_STRING_BYTES = 65_535;

/** Problems every MQTT UTF-8 string can have [MQTT-1.5.3-1, -2, -3]. */
export function mqttStringError(text: string): string | undefined {
  const length = utf8Length(text);
  if (length < 0) return 'contains a lone UTF-16 surrogate, which is not valid UTF-8';
  if (length > MAX_STRING_BYTES) return `is ${length} bytes of UTF-8, more than ${MAX_STRING_BYTES}`;
  if (text.includes('\u0000')) return 'contains U+0000';
  return undefined;
}

/** Why `topic` cannot be a PUBLISH topic name, or undefined when it can. */
export function topicNameError(topic: string): string | undefined {
  if (topic.length === 0) return 'is empty';
  if (topic.includes('+') || topic.includes('#')) return "contains a wildcard ('+' or '#')";
  return mqttStringError(topic);
}

/** Why `filter` cannot be a SUBSCRIBE/UNSUBSCRIBE topic filter, or undefined when it can. */
export function topicFilterError(filter: string): string | undefined {
  if (filter.length === 0) return 'is empty';
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i];
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      return "uses '#' other than as the whole last level";
    }
    if (level.includes('+') && level !== '+') return "uses '+' other than as a whole level";
  }
  return mqttStringError(filter);
}

export function isValidTopicName(topic: string): boolean {
  return topicNameError(topic) === undefined;
}

export function isValidTopicFilter(filter: string): boolean {
  return topicFilterError(filter) === undefined;
}

/**
 * Whether a valid topic name matches a valid filter. Wildcards in the first level do not
 * match topics starting with '$' [MQTT-4.7.2-1].
 */
export function topicMatchesFilter(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const filterLevels = filter.split('/');
  const topicLevels = topic.split('/');
  for (let i = 0; i < filterLevels.length; i++) {
    const level = filterLevels[i];
    if (level === '#') return true; // also matches the parent level: "a/#" matches "a"
    if (i >= topicLevels.length) return false;
    if (level !== '+' && level !== topicLevels[i]) return false;
  }
  return filterLevels.length === topicLevels.length;
}
