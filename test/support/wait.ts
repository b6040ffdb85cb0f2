// Polling for a condition with a deadline: how tests wait for real processes and sockets.

/**
 * Resolves once `condition` holds; rejects naming `what` after `timeoutMs`. `what` may be a function,
 * read only on timeout, so that the error can show the last state the condition saw.
 */
export async function waitUntil(
  what: string | (() => string),
  timeoutMs: number,
  condition: () => boolean | Promise<boolean>,
  pollMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      const described = typeof what === 'string' ? what : what();
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${described}`);
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
