/**
 * ASCII tables of spec §8.1 (`+`, `-`, `|`, one space of padding, multi-line cells).
 * Written here rather than taken from npm: the layout is a contract scripts parse (including the
 * missing bottom border of an empty list), and cli-table3 and friends add 30+ ms to every
 * client start.
 */
import { bold, type Color, paint } from "./colors.ts";

/** A cell: plain text, or text with a colour. Text may contain newlines. */
export type Cell = string | { text: string; color?: Color };

export interface TableStyle {
  /** Emit ANSI colours and bold headers. */
  colors: boolean;
}

export interface HorizontalTableOptions extends TableStyle {
  /** Indices of right-aligned columns (e.g. the ID column). */
  rightAligned?: number[];
}

/** A list: header row, separator, rows; no bottom border when there are no rows. */
export function renderHorizontalTable(
  header: string[],
  rows: Cell[][],
  options: HorizontalTableOptions,
): string {
  const widths = columnWidths([header, ...rows.map((row) => row.map(cellText))]);
  const border = borderLine(widths);
  const right = new Set(options.rightAligned ?? []);
  const out = [border];
  out.push(...renderRow(header.map((text) => ({ text, header: true })), widths, right, options));
  out.push(border);
  if (rows.length === 0) return out.join("\n") + "\n";
  for (const row of rows) out.push(...renderRow(row, widths, right, options));
  out.push(border);
  return out.join("\n") + "\n";
}

/** Label/value rows between a top and a bottom border. */
export function renderVerticalTable(rows: [string, Cell][], options: TableStyle): string {
  const widths = columnWidths(rows.map(([label, value]) => [label, cellText(value)]));
  const border = borderLine(widths);
  const out = [border];
  for (const [label, value] of rows) {
    out.push(...renderRow([{ text: label, header: true }, value], widths, new Set(), options));
  }
  out.push(border);
  return out.join("\n") + "\n";
}

type RenderCell = Cell | { text: string; header: true };

function renderRow(
  cells: RenderCell[],
  widths: number[],
  rightAligned: Set<number>,
  style: TableStyle,
): string[] {
  const linesPerCell = cells.map((cell) => cellText(cell).split("\n"));
  const height = Math.max(1, ...linesPerCell.map((lines) => lines.length));
  const out: string[] = [];
  for (let line = 0; line < height; line++) {
    const parts = widths.map((width, column) => {
      const text = linesPerCell[column]?.[line] ?? "";
      const pad = " ".repeat(Math.max(0, width - textWidth(text)));
      const styled = styleText(text, cells[column], style);
      return rightAligned.has(column) ? pad + styled : styled + pad;
    });
    out.push(`| ${parts.join(" | ")} |`);
  }
  return out;
}

function styleText(text: string, cell: RenderCell | undefined, style: TableStyle): string {
  if (!style.colors || text === "" || cell === undefined || typeof cell === "string") return text;
  if ("header" in cell) return bold(text);
  return cell.color ? paint(text, cell.color) : text;
}

function cellText(cell: RenderCell): string {
  return typeof cell === "string" ? cell : cell.text;
}

function columnWidths(rows: string[][]): number[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((text, column) => {
      for (const line of text.split("\n")) {
        widths[column] = Math.max(widths[column] ?? 0, textWidth(line));
      }
    });
  }
  return widths;
}

function borderLine(widths: number[]): string {
  return `+${widths.map((width) => "-".repeat(width + 2)).join("+")}+`;
}

/** Display width in code points; hostnames and paths are almost always ASCII. */
function textWidth(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}
