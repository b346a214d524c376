/**
 * `hq submit --from-json`: each element of a top-level JSON array re-serialised as compact JSON
 * with sorted keys, its numbers kept as written. `JSON.parse` would turn `1.0` into `1` and round
 * integers above 2^53; HyperQueue passes both through unchanged.
 */

type RawJson =
  | { kind: "literal"; text: string }
  | { kind: "string"; value: string }
  | { kind: "array"; items: RawJson[] }
  | { kind: "object"; members: Map<string, RawJson> };

/**
 * The elements of `text`, a JSON document whose top element is an array; null when it is not an
 * array. `text` must be valid JSON (check it with `JSON.parse` first, for its error messages).
 */
export function jsonArrayEntries(text: string): string[] | null {
  const reader = new JsonReader(text);
  const top = reader.value();
  return top.kind === "array" ? top.items.map(serialize) : null;
}

function serialize(value: RawJson): string {
  switch (value.kind) {
    case "literal":
      return value.text;
    case "string":
      return JSON.stringify(value.value);
    case "array":
      return `[${value.items.map(serialize).join(",")}]`;
    case "object": {
      const keys = [...value.members.keys()].sort();
      return `{${
        keys.map((key) => `${JSON.stringify(key)}:${serialize(value.members.get(key)!)}`).join(",")
      }}`;
    }
  }
}

class JsonReader {
  #at = 0;
  constructor(readonly text: string) {}

  value(): RawJson {
    this.#skipSpace();
    const c = this.text[this.#at];
    if (c === "[") {
      this.#at++;
      const items: RawJson[] = [];
      if (this.#next() === "]") this.#at++;
      else {
        for (;;) {
          items.push(this.value());
          if (this.#next() === ",") this.#at++;
          else break;
        }
        this.#at++; // "]"
      }
      return { kind: "array", items };
    }
    if (c === "{") {
      this.#at++;
      const members = new Map<string, RawJson>();
      if (this.#next() === "}") this.#at++;
      else {
        for (;;) {
          this.#skipSpace();
          const key = this.#string();
          this.#next(); // ":"
          this.#at++;
          members.set(key, this.value());
          if (this.#next() === ",") this.#at++;
          else break;
        }
        this.#at++; // "}"
      }
      return { kind: "object", members };
    }
    if (c === '"') return { kind: "string", value: this.#string() };
    const match = /-?[0-9.eE+\-]+|true|false|null/y;
    match.lastIndex = this.#at;
    const literal = match.exec(this.text)![0];
    this.#at += literal.length;
    return { kind: "literal", text: literal };
  }

  #string(): string {
    const match = /"(?:[^"\\]|\\.)*"/y;
    match.lastIndex = this.#at;
    const quoted = match.exec(this.text)![0];
    this.#at += quoted.length;
    return JSON.parse(quoted);
  }

  /** Skips white space and returns the character there. */
  #next(): string {
    this.#skipSpace();
    return this.text[this.#at];
  }

  #skipSpace(): void {
    while (/[ \t\r\n]/.test(this.text[this.#at] ?? "")) this.#at++;
  }
}
