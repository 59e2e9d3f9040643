/**
 * Peak memory of a process, as Linux keeps it in /proc/<pid>/status: VmHWM is the resident set's
 * high-water mark, the figure Supabase's per-function memory limit is about.
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
