import type { LogFields, Logger, LogLevel } from "../../ports/logger.ts";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY = /(authorization|token|secret|password|api_?key|signature|body|content|text)/i;

type Write = (line: string, level: LogLevel) => void;

/**
 * A class, not closures, and a child keeps its parent instead of copying its fields: every
 * request makes a child (tagged with its request id), most of which never write a line.
 */
class JsonLogger implements Logger {
  constructor(
    private readonly threshold: number,
    private readonly fields: LogFields,
    private readonly write: Write,
    private readonly parent: JsonLogger | null = null,
  ) {}

  #collect(into: Record<string, unknown>) {
    if (this.parent) this.parent.#collect(into);
    Object.assign(into, this.fields);
  }

  #emit(level: LogLevel, event: string, fields?: LogFields) {
    if (ORDER[level] < this.threshold) return;
    const all: Record<string, unknown> = {};
    this.#collect(all);
    Object.assign(all, fields);
    const record: Record<string, unknown> = { time: new Date().toISOString(), level, event };
    for (const [k, v] of Object.entries(all)) {
      if (v === undefined) continue;
      record[k] = SECRET_KEY.test(k) ? "[redacted]" : v;
    }
    this.write(JSON.stringify(record), level);
  }

  debug(event: string, fields?: LogFields) {
    this.#emit("debug", event, fields);
  }
  info(event: string, fields?: LogFields) {
    this.#emit("info", event, fields);
  }
  warn(event: string, fields?: LogFields) {
    this.#emit("warn", event, fields);
  }
  error(event: string, fields?: LogFields) {
    this.#emit("error", event, fields);
  }
  child(fields: LogFields): Logger {
    return new JsonLogger(this.threshold, fields, this.write, this);
  }
}

/** One JSON object a line on stdout/stderr, which both workerd and Deno ship to their log sinks. */
export function jsonLogger(options: {
  level: LogLevel;
  base?: LogFields;
  write?: Write;
}): Logger {
  const write: Write = options.write ??
    ((line, level) => (level === "error" ? console.error(line) : console.log(line)));
  return new JsonLogger(ORDER[options.level], options.base ?? {}, write);
}
