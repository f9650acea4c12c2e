// Ownership of things that must be ended: whoever creates a timer, pool, watcher or server adds it to its
// DisposableStore, and disposing the store ends them all, last created first (in the style of VS Code's lifecycle.ts).

/** Something a store can end: an object that closes (a pool, a server, a timer) or a function that ends it. */
export type Closable = { close(): unknown } | (() => unknown);

/**
 * The things one owner created, ended together in reverse order of creation, so nothing outlives what it
 * depends on (a timer that queries the store stops before the store closes). Every item is ended even when
 * one fails; the failures are thrown together afterwards. Disposing twice ends everything once.
 *
 * @example
 * const owned = new DisposableStore();
 * const store = owned.add(await openStore(url));
 * owned.add(new Periodic(() => sweep(store), () => 10_000, log)).start();
 * await owned.dispose(); // the timer stops, then the store closes
 */
export class DisposableStore {
  readonly #items: Closable[] = [];
  #disposing: Promise<void> | undefined;

  /** Takes `item` into the store and hands it back, so it can be owned where it is made. */
  add<T extends Closable>(item: T): T {
    // an owner that is gone cannot end what it takes on: failing loudly beats leaking quietly
    if (this.#disposing !== undefined)
      throw new Error('a disposed store cannot take new items; their owner is gone');
    this.#items.push(item);
    return item;
  }

  /** Ends every item, last added first; throws the one failure, or an AggregateError of several. */
  dispose(): Promise<void> {
    this.#disposing ??= this.#disposeAll();
    return this.#disposing;
  }

  async #disposeAll(): Promise<void> {
    const errors: unknown[] = [];
    for (const item of this.#items.splice(0).reverse()) {
      try {
        await (typeof item === 'function' ? item() : item.close());
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} resources failed to close`);
  }
}
