/**
 * Waits until `check` holds, asking again every 20 ms: for what Kluis does after it answers (provider events written
 * to the audit log, a change notification reaching the server), which a fixed sleep would race on a loaded machine.
 */
export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await check()); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
  }
}
