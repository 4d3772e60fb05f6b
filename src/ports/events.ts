import type { Job } from "./jobs.ts";

/** A core event about one client, for its webhook endpoints and the plugins subscribed to it. */
export interface CoreEvent {
  clientId: string;
  type: string;
  data: Record<string, unknown>;
  /**
   * Its plugin deliveries were recorded already, with the event's own write (the ingest records
   * those of new inbound messages in its transaction): only the webhook endpoints remain.
   */
  pluginsRecorded?: boolean;
}

/**
 * Hands events to the client's own webhook endpoints and to the plugins subscribed to them.
 * Returns the delivery jobs to ring, so the caller can ring them together with its other work.
 */
export interface EventPublisher {
  /**
   * Events published together are recorded with few writes per client (one per few hundred
   * deliveries). An array, not rest parameters: a batch can hold more events than a call can
   * take arguments.
   */
  publish(events: ReadonlyArray<CoreEvent>): Promise<Job[]>;
}
