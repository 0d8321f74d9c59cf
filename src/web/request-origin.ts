import type { Context } from 'koa';
import { describeDevice } from '../auth/device.ts';
import type { Origin } from '../auth/sign-in.ts';

/** Where a request came from (address as Koa trusts it, coarse device), for the person's security activity. */
export function origin(ctx: Context): Origin {
  return { ip: ctx.ip, device: describeDevice(ctx.get('user-agent')) };
}
