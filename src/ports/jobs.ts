/**
 * Work the edge does after answering: each job names a durable row, so a lost job only delays
 * work (the sweeper finds the row again), and running a job twice is harmless.
 */
export type Job =
  | { kind: "inbox"; id: number }
  | { kind: "send"; clientId: string; messageId: string }
  | { kind: "webhook_delivery"; clientId: string; deliveryId: string };

/** Rings the consumer: a Cloudflare Queue on Workers, an in-process queue on Deno. */
export interface Doorbell {
  /** `delayMs` asks for the jobs no earlier than that; the sweeper is the backstop either way */
  ring(jobs: Job[], options?: { delayMs?: number }): Promise<void>;
}
