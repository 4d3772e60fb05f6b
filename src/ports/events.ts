import type { Job } from "./jobs.ts";

/**
 * Hands an event to the client's own webhook endpoints. Returns the delivery jobs to ring, so the
 * caller can ring them together with its other work.
 */
export interface EventPublisher {
  /**
   * Events published together are recorded with few writes per client (one per few hundred
   * deliveries). An array, not rest parameters: a batch can hold more events than a call can
   * take arguments.
   */
  publish(
    events: ReadonlyArray<{ clientId: string; type: string; data: Record<string, unknown> }>,
  ): Promise<Job[]>;
}
