/**
 * Structured JSON logs, one line per event, with the function name and request id on every line.
 * Values under keys that name secrets or tokens are replaced before anything is written, so a
 * careless field can not leak a token into the logs.
 */

/** Log severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** A logger bound to a function and, usually, one request. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger with extra fields on every line (e.g. the request id). */
  child(fields: LogFields): Logger;
}

const SENSITIVE_KEY = /token|secret|password|authorization|signature|api[_-]?key|cookie/i;
const MAX_DEPTH = 5;

function redact(value: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH) return "[deep]";
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map((
        [key, inner],
      ) => [key, SENSITIVE_KEY.test(key) ? "[redacted]" : redact(inner, depth + 1)]),
    );
  }
  return value;
}

/** Where log lines go; tests replace it to capture them. */
export type LogSink = (line: string, level: LogLevel) => void;

const consoleSink: LogSink = (line, level) => {
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
};

let globalSink: LogSink = consoleSink;

/** Sends every logger's lines to `sink` (the dev runner and the log-scan test use this). */
export function setLogSink(sink: LogSink | null): void {
  globalSink = sink ?? consoleSink;
}

/** Creates a logger for `fn` (the function or tool name). */
export function createLogger(fn: string, base: LogFields = {}): Logger {
  const write = (level: LogLevel, message: string, fields: LogFields = {}) => {
    const line = JSON.stringify({
      time: new Date().toISOString(),
      level,
      fn,
      msg: message,
      ...(redact({ ...base, ...fields }) as LogFields),
    });
    globalSink(line, level);
  };
  return {
    debug: (message, fields) => write("debug", message, fields),
    info: (message, fields) => write("info", message, fields),
    warn: (message, fields) => write("warn", message, fields),
    error: (message, fields) => write("error", message, fields),
    child: (fields) => createLogger(fn, { ...base, ...fields }),
  };
}
