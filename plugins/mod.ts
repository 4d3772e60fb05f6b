/**
 * The plugin registry: one line per plugin, re-exporting its folder's definition. Static imports,
 * because Workers has no file system and bundlers follow only static imports. The app checks
 * every plugin at start-up and refuses to start, saying why, when one is malformed.
 * docs/plugins.md explains writing one.
 */
export { optOut } from "./opt_out/mod.ts";
export { shopify } from "./shopify/mod.ts";
