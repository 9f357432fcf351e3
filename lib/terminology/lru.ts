/** A small LRU cache with a time-to-live per entry (Map keeps insertion order: oldest first). */
export class LruCache<V> {
  private readonly m = new Map<string, { v: V; until: number }>();
  constructor(private readonly max: number, private readonly ttlMs: number, private readonly now: () => number = Date.now) {}

  get(key: string): V | undefined {
    const e = this.m.get(key);
    if (!e) return undefined;
    this.m.delete(key);
    if (e.until <= this.now()) return undefined;
    this.m.set(key, e);
    return e.v;
  }

  set(key: string, v: V): void {
    if (this.max <= 0 || this.ttlMs <= 0) return;
    this.m.delete(key);
    this.m.set(key, { v, until: this.now() + this.ttlMs });
    while (this.m.size > this.max) this.m.delete(this.m.keys().next().value!);
  }

  get size(): number { return this.m.size; }
  clear(): void { this.m.clear(); }
}
