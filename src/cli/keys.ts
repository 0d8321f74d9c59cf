import { listPublishedKeys } from '../db/signing-keys.ts';
import { rotateSigningKeys, type Rotation } from '../oidc/provider/keys.ts';
import type { AuditLog } from '../audit/writer.ts';
import type { Config } from '../config/env.ts';
import type { Database } from '../db/database.ts';
import type { SecretBox } from '../secrets/secret-box.ts';

/** `keys list`: the published signing keys with their state. */
export async function listKeys({ db }: { db: Database }) {
  return (await listPublishedKeys(db)).map((key) => ({
    kid: key.kid,
    alg: key.alg,
    state: key.state,
    created_at: key.createdAt.toISOString(),
    activates_at: key.activatesAt.toISOString(),
    retired_at: key.retiredAt?.toISOString() ?? null,
    unpublished_at: key.expiresAt?.toISOString() ?? null,
  }));
}

interface RotationDeps {
  db: Database;
  box: SecretBox;
  audit: AuditLog;
  keys: Config['keys'];
}

/** `keys rotate`: new keys published now, signing after KEY_ROTATION_OVERLAP; running servers pick them up. */
export async function rotateKeys({ db, box, audit, keys }: RotationDeps): Promise<Rotation[]> {
  const rotations = await rotateSigningKeys(db, box, { overlap: keys.rotationOverlap, retention: keys.retention });
  for (const rotation of rotations) {
    await audit.record({
      type: 'key.rotated',
      actor: 'operator',
      details: {
        alg: rotation.alg,
        kid: rotation.kid,
        retired: rotation.retired,
        overlap_seconds: keys.rotationOverlap,
      },
    });
  }
  return rotations;
}
