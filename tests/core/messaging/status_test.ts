import assert from "node:assert/strict";
import fc from "fast-check";
import {
  isMessageStatus,
  MESSAGE_STATUSES,
  type MessageStatus,
  nextStatus,
  STATUS_RANK,
} from "../../../src/core/messaging/status.ts";

const fold = (events: readonly MessageStatus[], start: MessageStatus | null = null) =>
  events.reduce<MessageStatus | null>((s, e) => nextStatus(s, e), start);

const TABLE: Array<[MessageStatus | null, MessageStatus, MessageStatus]> = [
  [null, "sent", "sent"],
  [null, "read", "read"],
  ["queued", "accepted", "accepted"],
  ["accepted", "sent", "sent"],
  ["sent", "delivered", "delivered"],
  ["delivered", "read", "read"],
  // read may arrive without delivered
  ["sent", "read", "read"],
  ["accepted", "read", "read"],
  // late events never move a message back
  ["read", "delivered", "read"],
  ["read", "sent", "read"],
  ["delivered", "sent", "delivered"],
  ["sent", "accepted", "sent"],
  // failed beats sent and delivered, and they cannot undo it
  ["sent", "failed", "failed"],
  ["delivered", "failed", "failed"],
  ["failed", "delivered", "failed"],
  ["failed", "sent", "failed"],
  ["failed", "accepted", "failed"],
  // failed is terminal: even a read receipt does not move it, whichever arrives first
  ["read", "failed", "failed"],
  ["failed", "read", "failed"],
  // duplicates change nothing
  ["delivered", "delivered", "delivered"],
  ["failed", "failed", "failed"],
];

for (const [current, incoming, expected] of TABLE) {
  Deno.test(`nextStatus() moves ${current ?? "nothing"} + ${incoming} to ${expected}`, () => {
    assert.equal(nextStatus(current, incoming), expected);
  });
}

Deno.test("STATUS_RANK orders queued < sending < accepted < sent < delivered < read < failed", () => {
  const ranked = [...MESSAGE_STATUSES].sort((a, b) => STATUS_RANK[a] - STATUS_RANK[b]);
  assert.deepEqual(ranked, [
    "queued",
    "sending",
    "accepted",
    "sent",
    "delivered",
    "read",
    "failed",
  ]);
  assert.equal(new Set(Object.values(STATUS_RANK)).size, MESSAGE_STATUSES.length);
});

Deno.test("isMessageStatus() accepts our statuses and not Meta's undocumented ones", () => {
  for (const s of MESSAGE_STATUSES) assert.equal(isMessageStatus(s), true);
  for (const s of ["deleted", "warning", "played", "", "toString", "__proto__"]) {
    assert.equal(isMessageStatus(s), false, s);
  }
});

const status = fc.constantFrom(...MESSAGE_STATUSES);

Deno.test("nextStatus() is commutative, associative and idempotent", () => {
  fc.assert(
    fc.property(status, status, status, (a, b, c) => {
      assert.equal(nextStatus(a, b), nextStatus(b, a));
      assert.equal(nextStatus(nextStatus(a, b), c), nextStatus(a, nextStatus(b, c)));
      assert.equal(nextStatus(a, a), a);
    }),
  );
});

Deno.test("folding any permutation of a status sequence, with duplicates, reaches the same state", () => {
  const scenario = fc.array(status, { minLength: 1, maxLength: 8 }).chain((events) =>
    fc.record({
      events: fc.constant(events),
      // every event delivered at least once, some several times (at-least-once delivery)
      redelivered: fc.array(fc.constantFrom(...events), { maxLength: 8 }),
      seed: fc.nat(),
    })
  );
  fc.assert(
    fc.property(scenario, ({ events, redelivered, seed }) => {
      const delivered = [...events, ...redelivered];
      // Fisher-Yates with a fixed seed so shrinking stays deterministic
      let state = seed;
      for (let i = delivered.length - 1; i > 0; i--) {
        state = (state * 1103515245 + 12345) & 0x7fffffff;
        const j = state % (i + 1);
        [delivered[i], delivered[j]] = [delivered[j], delivered[i]];
      }
      assert.equal(fold(delivered), fold(events));
      assert.equal(fold(delivered.toReversed()), fold(events));
    }),
    { numRuns: 1000 },
  );
});

Deno.test("folding a shuffled sequence from any stored state equals folding it in order", () => {
  fc.assert(
    fc.property(
      fc.option(status, { nil: null }),
      fc.array(status, { maxLength: 10 }).chain((events) =>
        fc.tuple(fc.constant(events), fc.shuffledSubarray(events, { minLength: events.length }))
      ),
      (start, [events, shuffled]) => {
        assert.equal(fold(shuffled, start), fold(events, start));
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("a sequence with a failure ends failed however read and delivered interleave", () => {
  fc.assert(
    fc.property(
      fc.shuffledSubarray(["sent", "delivered", "failed", "read", "delivered"] as MessageStatus[], {
        minLength: 5,
      }),
      (events) => assert.equal(fold(events), "failed"),
    ),
  );
});
