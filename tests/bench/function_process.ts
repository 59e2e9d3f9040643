/**
 * A function's entrypoint in a process of its own, so that its memory is its own: the load
 * generator and the doubles run in other processes, and the function's peak resident set (VmHWM)
 * can be read next to Supabase's per-function limit.
 */
import { processMemory } from "./process_memory.ts";

/** A function serving in a subprocess; `close` stops it. */
export interface FunctionProcess {
  url: string;
  /** The process's peak and current resident set, in MiB. */
  memory(): Promise<{ peakMb: number; residentMb: number }>;
  close(): Promise<void>;
}

/**
 * Starts `script` (a server that prints `{"url": ...}` on its first stdout line, as
 * {@link serveUntilStopped} does) with `env` added to this process's environment.
 */
export async function startFunctionProcess(
  script: URL,
  env: Record<string, string>,
): Promise<FunctionProcess> {
  const server = await startServerProcess(script, { env });
  const { url } = server.announced as { url: string };
  return { url, memory: () => processMemory(server.pid), close: server.close };
}

/** A benchmark's server in a subprocess: what it announced on its first line, its pid. */
export interface ServerProcess {
  /** The JSON of the server's first stdout line. */
  announced: unknown;
  pid: number;
  close(): Promise<void>;
}

/**
 * Runs `script` with `args` and `env` in a Deno subprocess and waits for its first stdout line
 * (JSON). Its later output is drained, so that it never blocks on a full pipe. `close` kills it
 * (SIGTERM) and closes its stdin, which such servers also take as the signal to end, so it ends
 * when this process dies without killing it.
 */
export async function startServerProcess(
  script: URL,
  options: { args?: string[]; env?: Record<string, string> } = {},
): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", script.href, ...(options.args ?? [])],
    env: options.env ?? {},
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stdin = child.stdin.getWriter();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await stdin.close().catch(() => {});
    await child.status;
  };
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${script.pathname} ended before it served: ${text}`);
      text += value;
    }
    (async () => {
      while (!(await reader.read()).done);
    })().catch(() => {});
    return { announced: JSON.parse(text.slice(0, text.indexOf("\n"))), pid: child.pid, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Serves `fetch` on 127.0.0.1 at a free port, prints `{"url": ...}` as one line, and exits on
 * SIGTERM, SIGINT or the end of stdin.
 */
export async function serveUntilStopped(
  fetch: (request: Request) => Response | Promise<Response>,
): Promise<void> {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) => console.log(JSON.stringify({ url: `http://127.0.0.1:${port}` })),
  }, fetch);
  const stop = () => {
    server.shutdown().finally(() => Deno.exit(0));
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  for await (const _ of Deno.stdin.readable);
  stop();
  await server.finished;
}
