// The emulator slot has one table (src/shared/slot.ts) that the addon's SlotWord enum must
// match; the loader refuses an addon that does not (src/native/addon.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { native } from '../../src/native/addon.js';
import { layoutMismatches, Slot, SLOT_WORDS } from '../../src/shared/slot.js';

test('the built addon writes the slot words where src/shared/slot.ts reads them', () => {
  assert.equal(layoutMismatches(native.slotLayout), []);
  assert.is(native.slotLayout.words, SLOT_WORDS);
});

test('every word of the table is its own and inside the slot', () => {
  const words = Object.values(Slot);
  assert.is(new Set(words).size, words.length, 'two names share a word');
  // The six arguments take 12 words from Slot.args.
  for (const w of [...words, Slot.args + 11]) assert.ok(w >= 0 && w < SLOT_WORDS, `word ${w} outside the slot`);
  for (const [name, w] of Object.entries(Slot)) {
    if (name !== 'args') assert.ok(w < Slot.args || w > Slot.args + 11, `${name} lies on an argument word`);
  }
});

test('a word moved, missing or added on either side is reported by name', () => {
  const addon = { ...native.slotLayout };
  assert.equal(layoutMismatches({ ...addon, netPort: 47 }), ['netPort: addon 47, slot.ts 33']);
  const { pathSlash: _, ...withoutSlash } = addon;
  assert.equal(layoutMismatches(withoutSlash), ['pathSlash: addon none, slot.ts 46']);
  assert.equal(layoutMismatches({ ...addon, pathExtra: 47 }), ['pathExtra: addon 47, slot.ts none']);
  assert.equal(layoutMismatches({ ...addon, words: 40 }), ['words: addon 40, slot.ts 48']);
});

test.run();
