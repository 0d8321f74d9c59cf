/**
 * A KLUIS_SECRET as operators are told to make one (`openssl rand -base64 32`): 256 bits of encoded randomness,
 * which production requires. Tests that run Kluis with an https issuer use it.
 */
export const STRONG_SECRET = 'jnkQnUXdle1Ef+LCngrFTNajTpkzNayEWwvmDAL9gUo=';
