/**
 * Errors a user can cause. `main.ts` prints an `HqError` as its message chain (no stack) and exits
 * with `exitCode`; anything else is a bug and keeps its stack.
 */
export class HqError extends Error {
  /** Process exit code when this error ends the program. */
  readonly exitCode: number = 1;

  /** An error with `message`; `options.cause` keeps the error that led to it. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A malformed command line: printed as `error: …` on stderr, exit code 2, in every output mode. */
export class UsageError extends HqError {
  override readonly exitCode = 2;
}

/** The server directory or its access file cannot be used. */
export class ServerDirError extends HqError {}

/** The server could not be reached or the connection broke. */
export class ConnectionError extends HqError {}

/** The server ended the connection cleanly. */
export class ConnectionClosedError extends ConnectionError {
  constructor() {
    super("Server connection closed");
  }
}

/** The peer did not prove possession of the key, or rejected ours. */
export class AuthenticationError extends ConnectionError {}

/** The peer speaks another version of our protocol. */
export class ProtocolMismatchError extends ConnectionError {}

/** The server answered a request with an error. */
export class ServerReplyError extends HqError {}

/** Returns the error's message followed by its causes, in the layout of spec §8.2. */
export function formatErrorChain(error: unknown): string {
  const top = messageOf(error);
  const causes: string[] = [];
  let shown = top;
  let cause = error instanceof Error ? error.cause : undefined;
  while (cause !== undefined && causes.length < 16) {
    // `Cannot read "x": <os error>` already says what its cause says: no second line for it.
    const text = messageOf(cause);
    if (!shown.includes(text)) causes.push(text);
    shown = text;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  if (causes.length === 0) return top;
  const lines = causes.length === 1
    ? [`    ${causes[0]}`]
    : causes.map((text, index) => `    ${index}: ${text}`);
  return `${top}\n\nCaused by:\n${lines.join("\n")}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The message of an error, for one-line logs. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
