/**
 * Splits a command line the way a POSIX shell splits words (quotes and backslashes, nothing
 * else): `cmd 'a b' "c\"d" e\ f` → `cmd`, `a b`, `c"d`, `e f`. Returns null when the text cannot
 * be split (an unterminated quote or a trailing backslash). Small enough not to pull in a package.
 */
export function splitShellWords(text: string): string[] | null {
  const words: string[] = [];
  let current = "";
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) return null;
      current += text.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === "\\" && j + 1 < text.length && '"\\$`\n'.includes(text[j + 1])) j++;
        current += text[j];
      }
      if (j >= text.length) return null;
      i = j;
      inWord = true;
    } else if (c === "\\") {
      if (i + 1 >= text.length) return null;
      current += text[++i];
      inWord = true;
    } else if (c === " " || c === "\t" || c === "\n") {
      if (inWord) words.push(current);
      current = "";
      inWord = false;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (inWord) words.push(current);
  return words;
}
