import type { Job } from "./jobs.ts";

/**
 * Hands an event to the client's own webhook endpoints. Returns the delivery jobs to ring, so the
 * caller can ring them together with its other work.
 */
export interface EventPublisher {
  /** Events published together are recorded with one write per client. */
  publish(
    ...events: Array<{ clientId: string; type: string; data: Record<string, unknown> }>
  ): Promise<Job[]>;
}
