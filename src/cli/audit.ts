import { auditEvents, lastSeq, verifyAuditChain } from '../db/audit-chain.ts';
import { CliError, type CliContext } from './context.ts';

/** `audit verify`: the whole chain, or a one-line report of the first broken event (exit 1). */
export async function verifyAudit(ctx: CliContext) {
  const verdict = await verifyAuditChain(ctx.db);
  if (!verdict.ok) {
    const where = `event ${verdict.seq} (id ${verdict.id})`;
    throw new CliError(`audit chain broken at ${where}: ${verdict.reason}; ${verdict.events} events before it verified`);
  }
  return { verified: true, events: verdict.events };
}

/** `audit tail [--limit N]`: the newest events, oldest first, one JSON object per line. */
export async function tailAudit(ctx: CliContext, limit: number, write: (line: string) => void) {
  const from = Math.max(0, (await lastSeq(ctx.db)) - limit);
  for (const event of await auditEvents(ctx.db, { afterSeq: from, limit })) write(JSON.stringify(event));
}

/** `audit export [--since ISO-8601]`: every event in chain order as JSON lines, for a SIEM. */
export async function exportAudit(ctx: CliContext, since: string | undefined, write: (line: string) => void) {
  const sinceDate = since === undefined ? undefined : new Date(since);
  if (sinceDate && Number.isNaN(sinceDate.getTime()))
    throw new CliError('--since must be an ISO 8601 date or time, e.g. 2026-11-01T00:00:00Z');
  let after = 0;
  for (;;) {
    const batch = await auditEvents(ctx.db, {
      afterSeq: after,
      ...(sinceDate ? { since: sinceDate } : {}),
      limit: 5000,
    });
    for (const event of batch) write(JSON.stringify(event));
    if (batch.length < 5000) return;
    after = batch.at(-1)!.seq;
  }
}
