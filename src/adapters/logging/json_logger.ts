import type { LogFields, Logger, LogLevel } from "../../ports/logger.ts";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY = /(authorization|token|secret|password|api_?key|signature|body|content|text)/i;

/** One JSON object a line on stdout/stderr, which both workerd and Deno ship to their log sinks. */
export function jsonLogger(options: {
  level: LogLevel;
  base?: LogFields;
  write?: (line: string, level: LogLevel) => void;
}): Logger {
  const write = options.write ??
    ((line, level) => (level === "error" ? console.error(line) : console.log(line)));
  const make = (base: LogFields): Logger => {
    const emit = (level: LogLevel, event: string, fields?: LogFields) => {
      if (ORDER[level] < ORDER[options.level]) return;
      const record: Record<string, unknown> = { time: new Date().toISOString(), level, event };
      for (const [k, v] of Object.entries({ ...base, ...fields })) {
        if (v === undefined) continue;
        record[k] = SECRET_KEY.test(k) ? "[redacted]" : v;
      }
      write(JSON.stringify(record), level);
    };
    return {
      debug: (e, f) => emit("debug", e, f),
      info: (e, f) => emit("info", e, f),
      warn: (e, f) => emit("warn", e, f),
      error: (e, f) => emit("error", e, f),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return make(options.base ?? {});
}
