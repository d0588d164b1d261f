// Where an MQTT sender wants its answer (src/usp/mtp_mqtt.ts replyTopic). Regression for issue 18: an MQTT
// 3.1.1 PUBLISH to ".../reply-to=%E0%A4%A" threw URIError out of the message handler and ended the agent, and
// a Response Topic "#" made the broker drop the agent's connection when it answered there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { replyTopic } from '../../src/usp/mtp_mqtt.ts';

test('reply topics: named, absent, unusable', () => {
  // [topic, Response Topic property, expected]
  const table: [string, string | undefined, string | undefined | null][] = [
    ['/usp/agent', '/usp/controller', '/usp/controller'],
    ['/usp/agent', undefined, undefined],
    ['/usp/agent', '', undefined],
    ['/usp/agent/reply-to=%2Fusp%2Fcontroller%2Fx', undefined, '/usp/controller/x'],
    ['/usp/agent/reply-to=', undefined, undefined],
    ['/usp/agent/reply-to=%E0%A4%A', undefined, null],
    ['/usp/agent/reply-to=%', undefined, null],
    ['/usp/agent/reply-to=%23', undefined, null],
    ['/usp/agent/reply-to=a%2B', undefined, null],
    ['/usp/agent/reply-to=a%00b', undefined, null],
    ['/usp/agent', '#', null],
    ['/usp/agent', '+/x', null],
    ['/usp/agent', 'a\u0000b', null],
    ['/usp/agent', 'x'.repeat(65536), null],
    ['/usp/agent/reply-to=%2Fignored', '/property/wins', '/property/wins'],
  ];
  for (const [topic, prop, want] of table) assert.equal(replyTopic(topic, prop), want, `${topic} ${prop?.slice(0, 20)}`);
});
