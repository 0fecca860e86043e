// readMessage (src/agent/read-message.ts) against a client that sends `}` byte by byte: the text is
// never parsed while it comes (JsonEnd finds its end, each byte looked at once); a whole message
// the runtime keeps its connection open after is still taken at once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { JsonEnd } from '../../src/agent/json-end.js';
import { readMessage, type MessageSource } from '../../src/agent/read-message.js';

const EAGAIN = -11;

/** A source that gives `chunks` one per recv (EAGAIN for null), then EOF (or EAGAIN for ever when `open`). */
function source(chunks: Array<string | null>, open = false): MessageSource {
  let at = 0;
  return {
    recv(buf) {
      const chunk = chunks[at++];
      if (chunk === undefined) return [open ? EAGAIN : 0];
      if (chunk === null) return [EAGAIN];
      return [buf.write(chunk)];
    },
    close() {},
    evicted: () => false,
  };
}

/** How often JSON.parse runs while `run` does. */
async function parsesDuring(run: () => Promise<unknown>): Promise<number> {
  const parse = JSON.parse;
  let parses = 0;
  JSON.parse = (...args: Parameters<typeof JSON.parse>) => {
    parses++;
    return parse(...args);
  };
  try {
    await run();
  } finally {
    JSON.parse = parse;
  }
  return parses;
}

test('a client sending `}` byte by byte inside a string: never a parse of the text while it comes', async () => {
  const chunks: Array<string | null> = ['{"a":"'];
  for (let b = 0; b < 4; b++) chunks.push(...Array<string>(1000).fill('}'), null);
  let text = '';
  const parses = await parsesDuring(async () => ({ text } = await readMessage(source(chunks))));
  assert.is(text.length, 4006);
  assert.is(parses, 0);
});

test('braces and quotes inside strings, escaped quotes: the message ends at its closing brace', () => {
  const message = JSON.stringify({ a: '}\\"', b: ['\\"}{', { c: ']"' }] });
  const end = new JsonEnd();
  const closedAt = [...Buffer.from(message)].findIndex((b) => end.feed(Uint8Array.of(b)));
  assert.is(closedAt, message.length - 1);
});

test('a whole message on a connection left open is taken when its batch is read', async () => {
  const { text } = await readMessage(source(['{"fds":', '["seccompFd"]}', null], true));
  assert.is(text, '{"fds":["seccompFd"]}');
});

test.run();
