import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

export interface Figures {
  rps: number;
  p50: number;
  p99: number;
  /** Cores busy in the measured server processes (1.0 = one core fully used). */
  cpu: number;
  rssMB: number;
  /** Per request (per flow for sca-login), over the timed window; absent where not measured. */
  perRequest?: PerRequest;
}

export interface PerRequest {
  /** CPU of the server's node process(es), µs. */
  nodeUs: number;
  /** CPU of the whole Postgres server, µs. */
  postgresUs?: number;
  /** CPU of the load generator (this bench process), µs: it shares the cores with the servers. */
  loadGeneratorUs?: number;
  statements?: number;
  commits?: number;
  /** Rows written (inserted, updated, deleted) in Postgres. */
  rows?: number;
  /** The most frequent statements: calls and execution µs per request (from the last round). */
  top?: { statement: string; perRequest: number; us: number }[];
}

export const TICKS = 100; // USER_HZ on Linux

/** Every pid of a server: the process and, for a worker supervisor, its children. */
export function processTree(pid: number): number[] {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    return [pid, ...children.flatMap(processTree)];
  } catch {
    return [pid];
  }
}

/**
 * CPU ticks of `pids` and of the children they have reaped (cutime, cstime): a Postgres backend or a worker that
 * exits during a window still counts, in its parent's figures.
 */
export function treeTicks(pids: number[]): number {
  return pids.reduce((sum, pid) => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return sum + Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    } catch {
      return sum;
    }
  }, 0);
}

/** Resident memory of the largest process (the target is per process). */
function maxRssMB(pids: number[]): number {
  return Math.max(
    0,
    ...pids.map((pid) => {
      try {
        const line = readFileSync(`/proc/${pid}/status`, 'utf8')
          .split('\n')
          .find((l) => l.startsWith('VmRSS:'));
        return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) / 1024;
      } catch {
        return 0;
      }
    }),
  );
}

/** Watches CPU time and RSS of `pids` while `work` runs. */
export async function sampled<T>(
  pids: number[],
  work: () => Promise<T>,
): Promise<{ result: T; cpu: number; rssMB: number; seconds: number; loadGeneratorSeconds: number }> {
  const startTicks = treeTicks(pids);
  const startLoad = process.cpuUsage();
  const started = performance.now();
  let rss = maxRssMB(pids);
  const timer = setInterval(() => (rss = Math.max(rss, maxRssMB(pids))), 200);
  try {
    const result = await work();
    const seconds = (performance.now() - started) / 1000;
    const cpu = (treeTicks(pids) - startTicks) / TICKS / seconds;
    const used = process.cpuUsage(startLoad);
    const loadGeneratorSeconds = (used.user + used.system) / 1e6;
    return { result, cpu, rssMB: Math.max(rss, maxRssMB(pids)), seconds, loadGeneratorSeconds };
  } finally {
    clearInterval(timer);
  }
}

export type Requests = autocannon.Options['requests'];

/** One autocannon run (a well-kept load generator): fixed connections and duration. */
export async function load(options: {
  url: string;
  connections: number;
  duration: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  requests?: Requests;
}): Promise<{ rps: number; p50: number; p99: number; errors: number; non2xx: number; requests: number }> {
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.duration,
    method: options.method ?? 'GET',
    headers: options.headers,
    body: options.body,
    requests: options.requests,
  } as autocannon.Options);
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
    requests: result.requests.total,
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
