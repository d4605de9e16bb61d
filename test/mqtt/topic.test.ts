import { isValidTopicFilter, isValidTopicName, topicFilterError, topicMatchesFilter, topicNameError } from '../../firmware/iot/mqtt/topic';

describe('topic names', () => {
  test.each(['a', 'a/b', '/', 'a//b', '/leading', 'trailing/', '$SYS/x', 'devices/d1/messages/events/', 'é/€/😀', ' '])('%j is valid', (topic) => {
    expect(topicNameError(topic)).toBeUndefined();
    expect(isValidTopicName(topic)).toBe(true);
  });

  test.each([
    ['', 'is empty'],
    ['a/+', "contains a wildcard ('+' or '#')"],
    ['a/#', "contains a wildcard ('+' or '#')"],
    ['a+b', "contains a wildcard ('+' or '#')"],
    ['a\u0000b', 'contains U+0000'],
    ['a\udc00', 'contains a lone UTF-16 surrogate, which is not valid UTF-8'],
    ['x'.repeat(65_536), 'is 65536 bytes of UTF-8, more than 65535'],
  ])('%j is invalid: %s', (topic, problem) => {
    expect(topicNameError(topic)).toBe(problem);
    expect(isValidTopicName(topic)).toBe(false);
  });

  test('65535 bytes is the limit', () => {
    expect(topicNameError('x'.repeat(65_535))).toBeUndefined();
  });
});

describe('topic filters', () => {
  test.each(['#', '+', 'a/#', 'a/+/b', '+/+', '/+', '+/', 'a/b', 'sport/tennis/player1/#', '$SYS/#', '+/#'])('%j is valid', (filter) => {
    expect(topicFilterError(filter)).toBeUndefined();
    expect(isValidTopicFilter(filter)).toBe(true);
  });

  test.each([
    ['', 'is empty'],
    ['a/#/b', "uses '#' other than as the whole last level"],
    ['a#', "uses '#' other than as the whole last level"],
    ['a/b#', "uses '#' other than as the whole last level"],
    ['#/', "uses '#' other than as the whole last level"],
    ['a+', "uses '+' other than as a whole level"],
    ['a/+b/c', "uses '+' other than as a whole level"],
    ['++', "uses '+' other than as a whole level"],
    ['a/\u0000', 'contains U+0000'],
  ])('%j is invalid: %s', (filter, problem) => {
    expect(topicFilterError(filter)).toBe(problem);
  });
});

describe('topic matching', () => {
  test.each([
    ['a/b', 'a/b', true],
    ['a/b', 'a/c', false],
    ['a/+', 'a/b', true],
    ['a/+', 'a/b/c', false],
    ['a/+', 'a', false],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['#', 'a/b', true],
    ['+/+', '/finance', true],
    ['/+', '/finance', true],
    ['+', '/finance', false],
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
  ])('%j matches %j: %s', (filter, topic, matches) => {
    expect(topicMatchesFilter(filter, topic)).toBe(matches);
  });
});
