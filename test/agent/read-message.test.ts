// readMessage (src/agent/read-message.ts) against a client that sends `}` byte by byte: the text is
// parsed once per read batch (when everything sent so far is read), never once per chunk; a
// whole message the runtime keeps its connection open after is still taken at once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
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

test('a client sending `}` byte by byte: one parse per read batch', async () => {
  const batches = 4;
  const chunks: Array<string | null> = [];
  for (let b = 0; b < batches; b++) chunks.push(...Array<string>(1000).fill('}'), null);
  let parses = 0;
  const { text } = await readMessage(source(chunks), (t) => {
    parses++;
    return t.length < 0;
  });
  assert.is(text.length, 4000);
  assert.ok(parses <= batches, `${parses} parses for ${batches} batches`);
});

test('a whole message on a connection left open is taken when its batch is read', async () => {
  const { text } = await readMessage(source(['{"fds":', '["seccompFd"]}', null], true));
  assert.is(text, '{"fds":["seccompFd"]}');
});

test.run();
