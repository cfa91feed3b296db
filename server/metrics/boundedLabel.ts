/**
 * Label values from a set the code does not close (service names): the first `max` seen keep their
 * name, any later one counts as `other`. Whoever can make new names (a tenant registering instances)
 * can then grow the series by at most `max`, never without bound.
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();

  constructor(private readonly max: number) {}

  of(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return 'other';
    this.seen.add(value);
    return value;
  }
}
