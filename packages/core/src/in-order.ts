/**
 * Maps each value of `source` through `read`, with up to `window` reads in flight, and yields the results
 * in the source's order: a listing reads its objects' records side by side (a cold disk answers many
 * reads at once far sooner than one after another) and still lists them as walked; a vault-wide check
 * examines its items side by side and reports them in order. A failure surfaces
 * where its value stands in the order. Reads already started when the consumer stops run to their end,
 * their outcome unused.
 */
export async function* mapInOrder<T, R>(
  source: AsyncIterable<T>,
  read: (value: T) => Promise<R>,
  window: number,
): AsyncGenerator<R> {
  const pending: Promise<R>[] = [];
  for await (const value of source) {
    const result = read(value);
    // awaited below in its turn; until then (or if the consumer stops first) not an unhandled rejection
    result.catch(() => {});
    pending.push(result);
    if (pending.length >= window) yield await (pending.shift() as Promise<R>);
  }
  while (pending.length > 0) yield await (pending.shift() as Promise<R>);
}
