/**
 * PBS and Slurm print times in the machine's local time zone, without the zone. Both parsers of
 * this folder turn the fields into epoch milliseconds here.
 */

/** Epoch ms of a local date and time (month 1–12); throws on fields out of range. */
export function localTimeMs(
  fields: {
    year: number;
    month: number;
    day: number;
    hour: number;
    minute: number;
    second: number;
  },
): number {
  const { year, month, day, hour, minute, second } = fields;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    throw new Error("a date or time field is out of range");
  }
  return new Date(year, month - 1, day, hour, minute, second).getTime();
}
