/** Milliseconds since the epoch. Handed in (never read from Date.now in a service) so tests can move time. */
export type Clock = () => number;
