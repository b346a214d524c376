// Resource names (resources spec §1.1): an ASCII letter, then ASCII letters, digits or `/`.

const WHOLE_NAME = /^[A-Za-z][A-Za-z0-9/]*$/;
const NAME_PREFIX = /[A-Za-z][A-Za-z0-9/]*/y;

/** Whether `text` is a valid resource name (`cpus`, `gpus/nvidia`, `fpga1`). */
export function isResourceName(text: string): boolean {
  return WHOLE_NAME.test(text);
}

/**
 * Length of the longest valid name starting at `offset` (0 when none does), so a parser can
 * stop at the first invalid char: for `a_b=[0]` it is 1.
 */
export function resourceNameLengthAt(text: string, offset: number): number {
  NAME_PREFIX.lastIndex = offset;
  return NAME_PREFIX.exec(text)?.[0].length ?? 0;
}
