/**
 * Memory and CPU of a process as Linux keeps them in /proc: peak memory in /proc/<pid>/status
 * (VmHWM is the resident set's high-water mark, the figure Supabase's per-function memory limit is
 * about) and CPU time in /proc/<pid>/stat.
 */

/** Supabase Edge Functions' memory limit per function instance. */
export const SUPABASE_FUNCTION_MEMORY_MB = 256;

/** The peak and current resident set of `pid` (this process by default), in MiB. */
export async function processMemory(
  pid: number | "self" = "self",
): Promise<{ peakMb: number; residentMb: number }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kib = (field: string) => {
    const match = status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    if (!match?.[1]) throw new Error(`Cannot read ${field} of process ${pid}`);
    return Number(match[1]);
  };
  return { peakMb: kib("VmHWM") / 1024, residentMb: kib("VmRSS") / 1024 };
}

/** "<label>: peak RSS N MiB (VmHWM) = x of Supabase's 256 MB" for this process. */
export async function peakMemoryLine(label: string): Promise<string> {
  const { peakMb } = await processMemory();
  return `${label}: peak RSS ${peakMb.toFixed(0)} MiB (VmHWM of this process) = ` +
    `${(peakMb / SUPABASE_FUNCTION_MEMORY_MB).toFixed(2)} of Supabase's ` +
    `${SUPABASE_FUNCTION_MEMORY_MB} MB per function`;
}

/** Fields of /proc/<pid>/stat after the command name (in parentheses, may hold spaces). */
async function statFields(pid: number | string): Promise<string[]> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** /proc's unit of CPU time (USER_HZ), 100 a second on Linux. */
const TICK_MS = 10;

/**
 * CPU time used by process `pid` so far (user + system), in ms. With `children`, also that of
 * its children: those that exited (kept in the process's own children's times once reaped) and
 * those still running, so a server's CPU is counted whichever of its processes spent it.
 */
export async function cpuMsOf(
  pid: number | "self",
  options: { children?: boolean } = {},
): Promise<number> {
  const own = await statFields(pid);
  let ticks = Number(own[11]) + Number(own[12]);
  if (!options.children) return ticks * TICK_MS;
  ticks += Number(own[13]) + Number(own[14]);
  const parent = pid === "self" ? String(Deno.pid) : String(pid);
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const fields = await statFields(entry.name).catch(() => null); // it may have exited
    if (fields?.[1] === parent) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * TICK_MS;
}
