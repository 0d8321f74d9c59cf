/** The types of node-version.js, which stays plain JavaScript so that any Node.js can run it. */
export function nodeVersionProblem(version: string, minimum?: string): string | undefined;
export function requireSupportedNode(): void;
