// `--resource "<NAME>=<KIND>"` and `--cpus <DEF>` of resources spec §2.1–§2.2, parsed by hand
// so that every failure can name the spec's note and the column it happened at.

import { HqError } from "../errors.ts";
import { ParseFailure, TextScanner } from "./text_scanner.ts";
import { AmountParseError, parseAmount, parseU32 } from "./amount.ts";
import {
  CPU_RESOURCE_NAME,
  InvalidResourceDescriptorError,
  itemFromGrid,
  itemFromGroups,
  type ResourceDescriptorItem,
} from "./resource_descriptor.ts";

/**
 * A `--resource` or `--cpus` value does not parse. `note` is the detail (the spec's note where it
 * has one), `offset` the 0-based position in `input` it refers to.
 */
export class ResourceDefinitionError extends HqError {
  constructor(
    readonly input: string,
    readonly offset: number,
    readonly note: string,
    subject: string,
  ) {
    super(`Invalid ${subject} "${input}": ${note}`);
  }
}

// `NxM` materialises every label, so a typo like `1000x1000000` must not exhaust memory.
const MAX_GRID_LABELS = 1 << 20;

const SUM_CPUS_MESSAGE = "Resource kind `sum` cannot be used with CPUs. CPUs must have identity";

/** Parses `--resource` text: `gpus=[0,1]`, `cpus=2x4`, `mem=sum(4096)`, `x=range(1-3)`. */
export function parseResourceDefinition(text: string): ResourceDescriptorItem {
  return withSubject(text, "resource definition", (scanner) => {
    const name = scanner.resourceNameAndEquals();
    const item = parseKind(scanner, name, false);
    scanner.expectEnd();
    return item;
  });
}

/**
 * Parses `--cpus` text: a bare count `N` (labels `0…N-1`) or any `--resource` kind except `sum`.
 * `sum(…)` and `0` throw {@link InvalidResourceDescriptorError}.
 */
export function parseCpuDefinition(text: string): ResourceDescriptorItem {
  const item = withSubject(text, "CPU definition", (scanner) => {
    const item = parseKind(scanner, CPU_RESOURCE_NAME, true);
    scanner.expectEnd();
    return item;
  });
  if (item.kind === "sum") throw new InvalidResourceDescriptorError(SUM_CPUS_MESSAGE);
  return item;
}

function withSubject(
  text: string,
  subject: string,
  parse: (scanner: Scanner) => ResourceDescriptorItem,
): ResourceDescriptorItem {
  try {
    return parse(new Scanner(text));
  } catch (error) {
    if (error instanceof ParseFailure) {
      throw new ResourceDefinitionError(text, error.offset, error.note, subject);
    }
    throw error;
  }
}

function parseKind(scanner: Scanner, name: string, bareCount: boolean): ResourceDescriptorItem {
  scanner.skipSpaces();
  const next = scanner.peek();
  if (next === "[") return parseListOrGroups(scanner, name);
  if (scanner.startsWith("range")) return parseRange(scanner, name);
  if (scanner.startsWith("sum")) return parseSum(scanner, name);
  if (next !== undefined && isDigit(next)) return parseGrid(scanner, name, bareCount);
  return scanner.failUnexpected("'[', 'range(', 'sum(' or 'NxM'");
}

function parseListOrGroups(scanner: Scanner, name: string): ResourceDescriptorItem {
  const listStart = scanner.offset;
  scanner.expect("[");
  scanner.skipSpaces();
  if (scanner.peek() !== "[") {
    const values = parseLabels(scanner);
    if (values.length === 0) {
      scanner.fail("List has to contain at least a single element", listStart);
    }
    if (new Set(values).size !== values.length) {
      scanner.fail("List items have to be unique", listStart);
    }
    return { name, kind: "list", values };
  }
  const groups: string[][] = [];
  do {
    scanner.skipSpaces();
    const groupStart = scanner.offset;
    scanner.expect("[");
    const group = parseLabels(scanner);
    if (group.length === 0) {
      scanner.fail("Each group has to contain at least a single element", groupStart);
    }
    if (new Set(group).size !== group.length) {
      scanner.fail("Group items have to be unique", groupStart);
    }
    groups.push(group);
    scanner.skipSpaces();
  } while (scanner.eat(","));
  scanner.expect("]");
  // Labels repeated across groups pass here and fail descriptor validation, as in HyperQueue.
  return itemFromGroups(name, groups);
}

/** Labels after an opening `[`, through the closing `]`. */
function parseLabels(scanner: Scanner): string[] {
  const labels: string[] = [];
  scanner.skipSpaces();
  if (scanner.eat("]")) return labels;
  do {
    scanner.skipSpaces();
    labels.push(parseLabel(scanner));
    scanner.skipSpaces();
  } while (scanner.eat(","));
  scanner.expect("]");
  return labels;
}

function parseLabel(scanner: Scanner): string {
  if (scanner.eat('"')) {
    const end = scanner.text.indexOf('"', scanner.offset);
    if (end < 0) {
      scanner.offset = scanner.text.length;
      scanner.failUnexpected("'\"'");
    }
    const label = scanner.text.slice(scanner.offset, end);
    scanner.offset = end + 1;
    return label;
  }
  const start = scanner.offset;
  while (scanner.offset < scanner.text.length && isBareLabelChar(scanner.text[scanner.offset])) {
    scanner.offset++;
  }
  if (scanner.offset === start) scanner.failUnexpected("a label");
  return scanner.text.slice(start, scanner.offset);
}

function isBareLabelChar(char: string): boolean {
  return !/[,[\]"\s]/.test(char);
}

function parseRange(scanner: Scanner, name: string): ResourceDescriptorItem {
  const rangeStart = scanner.offset;
  scanner.offset += "range".length;
  scanner.expect("(");
  scanner.skipSpaces();
  const start = scanner.integer();
  scanner.skipSpaces();
  scanner.expect("-");
  scanner.skipSpaces();
  const end = scanner.integer();
  scanner.skipSpaces();
  scanner.expect(")");
  // HyperQueue's wording, inverted as it is there (spec quirk).
  if (start > end) scanner.fail("Start must be greater or equal to end", rangeStart);
  return { name, kind: "range", start, end };
}

function parseSum(scanner: Scanner, name: string): ResourceDescriptorItem {
  scanner.offset += "sum".length;
  scanner.expect("(");
  scanner.skipSpaces();
  const size = scanner.amount();
  scanner.skipSpaces();
  scanner.expect(")");
  return { name, kind: "sum", size };
}

function parseGrid(scanner: Scanner, name: string, bareCount: boolean): ResourceDescriptorItem {
  const gridStart = scanner.offset;
  const groupCount = scanner.integer();
  if (bareCount && scanner.peek() !== "x") {
    // `--cpus 0` would be an empty pool, which HyperQueue reports as the sum error.
    if (groupCount === 0) throw new InvalidResourceDescriptorError(SUM_CPUS_MESSAGE);
    return { name, kind: "range", start: 0, end: groupCount - 1 };
  }
  scanner.expect("x");
  const groupSize = scanner.integer();
  if (groupCount === 0 || groupSize === 0) {
    scanner.fail("Group count and group size must be positive", gridStart);
  }
  if (groupCount > 1 && groupCount * groupSize > MAX_GRID_LABELS) {
    scanner.fail(`At most ${MAX_GRID_LABELS} labels can be generated by NxM`, gridStart);
  }
  return itemFromGrid(name, { groupCount, groupSize });
}

function isDigit(char: string): boolean {
  return char >= "0" && char <= "9";
}

const INTEGER = /[0-9]+(?:_[0-9]+)*/y;
const AMOUNT = /[0-9]+(?:_[0-9]+)*(?:\.[0-9]+)?/y;

class Scanner extends TextScanner {
  integer(): number {
    return this.number(INTEGER, parseU32);
  }

  amount(): number {
    return this.number(AMOUNT, parseAmount);
  }

  private number(pattern: RegExp, parse: (text: string) => number): number {
    pattern.lastIndex = this.offset;
    const token = pattern.exec(this.text)?.[0];
    if (token === undefined) return this.failUnexpected("a number");
    const start = this.offset;
    this.offset += token.length;
    try {
      return parse(token);
    } catch (error) {
      if (error instanceof AmountParseError) this.fail(error.message, start);
      throw error;
    }
  }
}
