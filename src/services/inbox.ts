import { decryptSystem } from "../core/crypto/envelope.ts";
import type { ClaimedInboxItem, Job } from "../ports/jobs.ts";
import type { ServiceDeps } from "./deps.ts";

/** how long a claim on an inbox item holds before the sweeper may take the item again */
export const INBOX_LEASE_SECONDS = 60;
/** failed attempts after which a delivery whose failure is its own is set aside */
export const MAX_INBOX_ATTEMPTS = 10;

/** A recorded provider delivery, claimed for processing. */
export interface InboxItem {
  id: number;
  /** `meta`, or the id of the plugin whose upstream sent it */
  provider: string;
  attempts: number;
  /** the verified body as JSON.parse gave it (decrypted from the row unless the job carried it) */
  body(): Promise<unknown>;
}

/**
 * Why a delivery is not done. `own`: the failure is pinned on the delivery itself (its payload is
 * unusable, or the database refused its content when it was stored alone), so its retries run
 * out; otherwise the database or the network failed around it, and it waits for them.
 */
export interface Failure {
  message: string;
  own: boolean;
}

/**
 * Processes one provider's claimed deliveries, many at a time. It records in `failures` each
 * delivery that failed alone and returns the jobs its work rang up; it throws when the batch
 * failed as a whole (the database or the network), which fails every delivery not yet pinned.
 * Deliveries it neither pins nor fails are done.
 */
export type InboxProcessor = (items: InboxItem[], failures: Map<number, Failure>) => Promise<Job[]>;

type InboxJob = Extract<Job, { kind: "inbox" }>;
type DeliveryJob = Extract<Job, { kind: "delivery" }>;

/**
 * Accepts a verified provider delivery before it is acknowledged: once this resolves, it survives
 * a crash. Through a durable doorbell (a Cloudflare Queue) the delivery itself is the job, its
 * payload encrypted as the inbox keeps it, and the consumer records a batch of them in one write
 * (deliveryConsumer): an isolate on Workers cannot share a write between requests, and a
 * PostgREST call per webhook cost the Worker more than the rest of the request together. Else
 * (in-process jobs, or a payload too large for a message) its inbox row is written first and its
 * job rung. `duplicate` is null where the delivery is not recorded yet: the record dedupes it.
 */
export async function acceptDelivery(
  deps: Pick<ServiceDeps, "inbox" | "doorbell">,
  delivery: {
    provider: string;
    dedupeKey: string;
    route: string | null;
    /** as JSON.parse gave it */
    body: unknown;
    ciphertext: string;
  },
): Promise<{ duplicate: boolean | null }> {
  const { provider, dedupeKey, route, ciphertext } = delivery;
  const carries = deps.doorbell.carries;
  if (deps.doorbell.durable && carries !== undefined && ciphertext.length <= carries) {
    await deps.doorbell.ring([{ kind: "delivery", provider, dedupeKey, route, ciphertext }]);
    return { duplicate: null };
  }
  const id = await deps.inbox.write(provider, dedupeKey, ciphertext, route);
  if (id !== null) {
    await deps.doorbell.ring([
      recordedJob(deps, { id, provider, route, body: delivery.body, ciphertext }),
    ]);
  }
  return { duplicate: id === null };
}

/**
 * The consumer of deliveries a durable queue carried (acceptDelivery): a batch's are recorded in
 * the inbox in one write per provider, already claimed, and the new ones processed at once, as
 * claimed rows are (`processInbox`); duplicates (of a recorded delivery, or within the batch) are
 * left to their first copy. It throws only when recording failed: then the queue must bring the
 * deliveries back. Once they are recorded, a failure of their processing is the inbox's to retry
 * (released with backoff, or leased until the sweeper takes them), and is only logged.
 */
export function deliveryConsumer(
  deps: Pick<ServiceDeps, "inbox" | "logger">,
  processInbox: (jobs: InboxJob[]) => Promise<unknown>,
) {
  return async function recordDeliveries(jobs: DeliveryJob[]): Promise<void> {
    const byProvider = new Map<string, DeliveryJob[]>();
    for (const job of jobs) {
      let list = byProvider.get(job.provider);
      if (!list) byProvider.set(job.provider, list = []);
      list.push(job);
    }
    const recorded: InboxJob[] = [];
    for (const [provider, list] of byProvider) {
      const ids = await deps.inbox.writeMany(
        provider,
        list.map((j) => ({
          dedupeKey: j.dedupeKey,
          payloadCiphertext: j.ciphertext,
          routeKey: j.route,
        })),
      );
      ids.forEach((id, i) => {
        if (id === null) return;
        recorded.push({
          kind: "inbox",
          id,
          route: list[i].route,
          provider,
          claimed: { ciphertext: list[i].ciphertext },
        });
      });
    }
    if (!recorded.length) return;
    try {
      await processInbox(recorded);
    } catch (error) {
      deps.logger.error("recorded_deliveries_failed", {
        count: recorded.length,
        message: (error as Error).message,
      });
    }
  };
}

/**
 * The job for a delivery just recorded in the inbox. A row written claimed (inbox.claims) goes
 * with what spares the consumer its claim: in this process the body as parsed (no decryption, no
 * parse), through a queue the payload as stored, if it fits in a message (no database call
 * before the walk, as in this process).
 */
export function recordedJob(
  deps: Pick<ServiceDeps, "inbox" | "doorbell">,
  row: { id: number; provider: string; route: string | null; body: unknown; ciphertext: string },
): InboxJob {
  const job: InboxJob = { kind: "inbox", id: row.id, route: row.route };
  if (!deps.inbox.claims) return job;
  const carries = deps.doorbell.carries;
  const claimed: ClaimedInboxItem = carries === undefined
    ? { body: row.body }
    : row.ciphertext.length <= carries
    ? { ciphertext: row.ciphertext }
    : {};
  return { ...job, provider: row.provider, claimed };
}

/**
 * Step 3 of the event flow, for every provider: claims the rung deliveries (one round trip for the
 * batch; one written claimed for this process comes with its body instead), hands each provider's
 * share to its processor (`processors`, by provider: Meta's and plugins'), then finishes them:
 * done ones in one call, failed ones released with backoff, and the jobs their work rang up rung.
 */
export function inboxConsumer(
  deps: Pick<ServiceDeps, "inbox" | "keyring" | "doorbell" | "logger" | "now">,
  processors: ReadonlyMap<string, InboxProcessor>,
) {
  return async function processInbox(
    jobs: InboxJob[],
  ): Promise<{ processed: number; failed: number; skipped: number }> {
    const items: InboxItem[] = [];
    const seen = new Set<number>();
    const toClaim: number[] = [];
    // claimed at their write, their payloads too large for the job: read in one call
    const toRead: Array<{ id: number; provider: string }> = [];
    const opened = (id: number, provider: string, attempts: number, ciphertext: string) => ({
      id,
      provider,
      attempts,
      body: async () => JSON.parse(await decryptSystem(deps.keyring, ciphertext)),
    });
    for (const job of jobs) {
      if (seen.has(job.id)) continue;
      seen.add(job.id);
      const claimed: ClaimedInboxItem | undefined = job.claimed;
      const provider = job.provider ?? "meta";
      if (!claimed) toClaim.push(job.id);
      else if (claimed.ciphertext !== undefined) {
        items.push(opened(job.id, provider, 1, claimed.ciphertext));
      } else if ("body" in claimed) {
        items.push({
          id: job.id,
          provider,
          attempts: 1,
          body: () => Promise.resolve(claimed.body),
        });
      } else toRead.push({ id: job.id, provider });
    }
    if (toRead.length) {
      const payloads = await deps.inbox.payloads(toRead.map((r) => r.id));
      for (const { id, provider } of toRead) {
        const ciphertext = payloads.get(id);
        // finished meanwhile (a sweep's copy of the job ran first): nothing left to do
        if (ciphertext) items.push(opened(id, provider, 1, ciphertext));
      }
    }
    if (toClaim.length) {
      for (const row of await deps.inbox.claim(toClaim, INBOX_LEASE_SECONDS)) {
        items.push(opened(row.id, row.provider, row.attempts, row.payload_ciphertext));
      }
    }
    const skipped = seen.size - items.length;
    if (!items.length) return { processed: 0, failed: 0, skipped };

    const byProvider = new Map<string, InboxItem[]>();
    for (const item of items) {
      let list = byProvider.get(item.provider);
      if (!list) byProvider.set(item.provider, list = []);
      list.push(item);
    }
    let processed = 0;
    for (const [provider, list] of byProvider) {
      const processor = processors.get(provider);
      // A delivery that has failed this often without the failure being pinned on it goes on
      // alone: if it is the cause after all, it can no longer hold the others back
      const alone = list.filter((i) => i.attempts > MAX_INBOX_ATTEMPTS);
      const groups = alone.length
        ? [list.filter((i) => i.attempts <= MAX_INBOX_ATTEMPTS), ...alone.map((i) => [i])]
        : [list];
      for (const group of groups) {
        if (group.length) processed += await processGroup(deps, provider, processor, group);
      }
    }
    return { processed, failed: items.length - processed, skipped };
  };
}

async function processGroup(
  deps: Pick<ServiceDeps, "inbox" | "doorbell" | "logger" | "now">,
  provider: string,
  processor: InboxProcessor | undefined,
  items: InboxItem[],
): Promise<number> {
  const failures = new Map<number, Failure>();
  let jobs: Job[] = [];
  if (!processor) {
    // a plugin removed from the registry while its deliveries waited: kept for operators
    const failure = { message: `No processor for provider ${provider}`, own: true };
    for (const item of items) failures.set(item.id, failure);
  } else {
    try {
      jobs = await processor(items, failures);
    } catch (error) {
      // the database or the network failed, not a delivery: the batch fails as a whole (no call
      // per delivery against a database that is down) and is retried later; it sets nothing aside
      const failure = { message: (error as Error).message, own: false };
      for (const item of items) if (!failures.has(item.id)) failures.set(item.id, failure);
    }
  }
  const done = items.filter((i) => !failures.has(i.id)).map((i) => i.id);
  // every event is stored by now: the raw payload goes (the row stays, for dedupe of retries)
  if (done.length) await deps.inbox.finish(done, deps.now());
  for (const item of items) {
    const failure = failures.get(item.id);
    if (failure) await releaseFailed(deps, item, failure);
  }
  if (jobs.length) await deps.doorbell.ring(jobs);
  return done.length;
}

/**
 * A delivery that could not be processed waits with exponential backoff (at most an hour). One
 * whose failure is its own is set aside (processed, with its error and payload) for operators
 * after MAX_INBOX_ATTEMPTS, instead of coming back forever; one that failed for the database's
 * sake is never set aside, so an outage, however long, loses nothing acknowledged.
 */
async function releaseFailed(
  deps: Pick<ServiceDeps, "inbox" | "logger" | "now">,
  item: InboxItem,
  failure: Failure,
) {
  const giveUp = failure.own && item.attempts >= MAX_INBOX_ATTEMPTS;
  const wait = Math.min(3_600_000, 1000 * 2 ** item.attempts);
  await deps.inbox.release(item.id, {
    error: failure.message,
    nextAttemptAt: deps.now() + wait,
    giveUp,
    at: deps.now(),
  });
  deps.logger.error("inbox_item_failed", {
    inbox_id: item.id,
    provider: item.provider,
    attempts: item.attempts,
    give_up: giveUp,
    own: failure.own,
    message: failure.message,
  });
}
