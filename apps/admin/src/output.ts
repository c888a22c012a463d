import Table from 'cli-table3';

/** One JSON document on stdout: what --json prints. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLine(text: string): void {
  process.stdout.write(`${text}\n`);
}

type Cell = string | number | boolean | null | undefined;

function cellText(value: Cell): string {
  return value === null || value === undefined || value === '' ? '-' : String(value);
}

/** A table for people: headings, then rows. */
export function table(head: string[], rows: Cell[][]): string {
  const output = new Table({ head, style: { head: [], border: [], compact: true }, wordWrap: true });
  output.push(...rows.map((row) => row.map(cellText)));
  return output.toString();
}

/** Names and values, one per line, for a single record. */
export function fields(rows: [string, Cell][]): string {
  const output = new Table({ style: { head: [], border: [], compact: true }, wordWrap: true });
  for (const [name, value] of rows) output.push({ [name]: cellText(value) });
  return output.toString();
}

/** `k=v, k=v`, or '-' for none. */
export function pairs(record: Record<string, string | number>): string {
  const entries = Object.entries(record);
  return entries.length === 0 ? '-' : entries.map(([key, value]) => `${key}=${value}`).join(', ');
}

/** A byte count for people: 1234567 → "1.2 MiB". */
export function bytes(count: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${count} B` : `${value.toFixed(1)} ${units[unit]}`;
}
