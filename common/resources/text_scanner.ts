// A cursor over a short text for the hand-written resource parsers (worker descriptors, task
// requests): failures carry a note and the offset they point at, which the parsers turn into
// their own error classes and messages.

import { resourceNameLengthAt } from "./resource_name.ts";

/** A parse stopped at `offset`; `note` says why (`Unexpected character … expected …`). */
export class ParseFailure extends Error {
  constructor(readonly note: string, readonly offset: number) {
    super(note);
  }
}

export class TextScanner {
  offset = 0;

  constructor(readonly text: string) {}

  atEnd(): boolean {
    return this.offset >= this.text.length;
  }

  peek(): string | undefined {
    return this.text[this.offset];
  }

  atDigit(): boolean {
    const char = this.text[this.offset];
    return char !== undefined && char >= "0" && char <= "9";
  }

  startsWith(word: string): boolean {
    return this.text.startsWith(word, this.offset);
  }

  skipSpaces(): void {
    while (this.offset < this.text.length && /\s/.test(this.text[this.offset])) this.offset++;
  }

  eat(char: string): boolean {
    if (this.text[this.offset] !== char) return false;
    this.offset++;
    return true;
  }

  expect(char: string): void {
    if (!this.eat(char)) this.failUnexpected(`'${char}'`);
  }

  expectEnd(): void {
    this.skipSpaces();
    if (!this.atEnd()) this.failUnexpected("end of input");
  }

  /** `NAME=` at the offset (spaces allowed around `=`); the report points at the first bad char. */
  resourceNameAndEquals(): string {
    this.skipSpaces();
    const start = this.offset;
    const length = resourceNameLengthAt(this.text, start);
    if (length === 0) this.failUnexpected("a resource name");
    this.offset += length;
    const name = this.text.slice(start, this.offset);
    this.skipSpaces();
    this.expect("=");
    return name;
  }

  fail(note: string, offset = this.offset): never {
    throw new ParseFailure(note, offset);
  }

  failUnexpected(expected: string): never {
    const found = this.text[this.offset];
    const what = found === undefined
      ? "Unexpected end of input"
      : `Unexpected character '${found}' at column ${this.offset + 1}`;
    return this.fail(`${what}, expected ${expected}`);
  }
}
