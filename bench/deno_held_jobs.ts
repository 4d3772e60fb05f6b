import type { Doorbell, Job } from "../src/ports/jobs.ts";
import { serveDeno } from "../src/entry/deno.ts";

/**
 * src/entry/deno.ts with its jobs held back until SIGUSR2: the ingest benchmark's `--phases`
 * times acknowledging webhooks (the fetch) and processing them (the consumer) apart, as the
 * Workers run does by holding its queue. Rows written claimed keep their lease (60 s) while held.
 */
const held: Array<[Job[], { delayMs?: number } | undefined]> = [];
let holding = true;
let local: Doorbell | undefined;

Deno.addSignalListener("SIGUSR2", () => {
  holding = false;
  // the backlog in one ring, so that it fills batches as a queue's backlog does
  const now = held.splice(0);
  void local!.ring(now.filter(([, o]) => !o?.delayMs).flatMap(([jobs]) => jobs));
  for (const [jobs, options] of now) if (options?.delayMs) void local!.ring(jobs, options);
});

await serveDeno({
  doorbell: (bell) => {
    local = bell;
    return {
      ring(jobs, options) {
        if (!holding) return bell.ring(jobs, options);
        held.push([jobs, options]);
        return Promise.resolve();
      },
    };
  },
});
