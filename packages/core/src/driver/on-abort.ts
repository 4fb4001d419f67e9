/** Callbacks per signal, behind the one 'abort' listener each signal gets. */
const hooks = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Calls `callback` once `signal` aborts (at once when it already has) and returns the unsubscribe.
 * Every callback on one signal shares a single 'abort' listener: a worker passes one signal to
 * all its slots and jobs, and an add and a remove of a listener per job or per wait would cost
 * more than the work they guard.
 */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  if (signal.aborted) {
    callback();
    return () => {};
  }
  let callbacks = hooks.get(signal);
  if (callbacks === undefined) {
    const created = new Set<() => void>();
    callbacks = created;
    hooks.set(signal, created);
    signal.addEventListener(
      'abort',
      () => {
        hooks.delete(signal);
        for (const hook of [...created]) hook();
      },
      { once: true },
    );
  }
  callbacks.add(callback);
  const registered = callbacks;
  return () => {
    registered.delete(callback);
  };
}
