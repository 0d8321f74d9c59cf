import { listPublishedKeys } from '../db/signing-keys.ts';
import { rotateSigningKeys, type Rotation } from '../oidc/provider/keys.ts';
import type { CliContext } from './context.ts';

export async function listKeys(ctx: CliContext) {
  return (await listPublishedKeys(ctx.db)).map((key) => ({
    kid: key.kid,
    alg: key.alg,
    state: key.state,
    created_at: key.createdAt.toISOString(),
    activates_at: key.activatesAt.toISOString(),
    retired_at: key.retiredAt?.toISOString() ?? null,
    unpublished_at: key.expiresAt?.toISOString() ?? null,
  }));
}

/** `keys rotate`: new keys published now, signing after KEY_ROTATION_OVERLAP; running servers pick them up. */
export async function rotateKeys(ctx: CliContext): Promise<Rotation[]> {
  const rotations = await rotateSigningKeys(ctx.db, ctx.secrets.box, {
    overlap: ctx.config.keys.rotationOverlap,
    retention: ctx.config.keys.retention,
  });
  for (const rotation of rotations) {
    await ctx.audit.record({
      type: 'key.rotated',
      actor: 'operator',
      details: {
        alg: rotation.alg,
        kid: rotation.kid,
        retired: rotation.retired,
        overlap_seconds: ctx.config.keys.rotationOverlap,
      },
    });
  }
  return rotations;
}
