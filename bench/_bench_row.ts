/**
 * The row every benchmark returns, and the plain-text table `run.ts` and each benchmark's
 * stand-alone run print.
 */

export interface BenchRow {
  /** `<benchmark>/<what>`, e.g. `transport_roundtrip/server-info-mean`. */
  name: string;
  figure: number;
  unit: string;
  /** The same quantity for the baseline, measured in the same run; null when there is none. */
  reference: number | null;
  /** What the reference is, e.g. "unencrypted" or "empty file". */
  referenceLabel: string;
  /** figure / reference unless the benchmark says otherwise; null without a reference. */
  ratio: number | null;
  /** Target for the ratio, e.g. "<= 1.3x"; empty when the row is informational. */
  target: string;
}

const COLUMNS = ["benchmark", "figure", "unit", "reference", "ratio", "target"];

/** Aligned plain text: one header, one rule, one line per row. */
export function formatTable(rows: BenchRow[]): string {
  const cells = rows.map((row) => [
    row.name,
    formatNumber(row.figure),
    row.unit,
    row.reference === null ? "-" : `${formatNumber(row.reference)} ${row.referenceLabel}`,
    row.ratio === null ? "-" : `${row.ratio.toFixed(2)}x`,
    row.target || "-",
  ]);
  const widths = COLUMNS.map((title, c) =>
    Math.max(title.length, ...cells.map((l) => l[c].length))
  );
  const numeric = [false, true, false, false, true, false];
  const line = (values: string[]) =>
    values.map((value, c) => numeric[c] ? value.padStart(widths[c]) : value.padEnd(widths[c]))
      .join("  ").trimEnd();
  return [line(COLUMNS), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)]
    .join("\n");
}

/** Three significant digits below 1,000; whole numbers with separators above. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  // 999.6 rounds to "1,000", not "1000".
  if (abs >= 999.5 || Number.isInteger(value)) return Math.round(value).toLocaleString("en-US");
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toFixed(digits);
}
