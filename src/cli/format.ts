// Output as docker prints it: decimal sizes with three significant digits (106MB, 1.05MB, 0B),
// "N minutes ago", short IDs, left-aligned columns with three spaces between them.

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

export function humanSize(bytes: number): string {
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(3))}${UNITS[i]}`;
}

/** docker's units.HumanDuration, plus " ago". */
export function ago(iso: string, now = Date.now()): string {
  return `${duration(iso, now)} ago`;
}

/** docker's units.HumanDuration of the time since `iso` ("3 minutes", "About an hour"). */
export function duration(iso: string, now = Date.now()): string {
  const s = Math.max(0, (now - Date.parse(iso)) / 1000);
  const h = s / 3600;
  let d: string;
  if (s < 1) d = 'Less than a second';
  else if (s < 2) d = '1 second';
  else if (s < 60) d = `${Math.floor(s)} seconds`;
  else if (s < 120) d = 'About a minute';
  else if (s < 46 * 60) d = `${Math.floor(s / 60)} minutes`;
  else if (s < 90 * 60) d = 'About an hour';
  else if (h < 48) d = `${Math.floor(h)} hours`;
  else if (h < 24 * 7 * 2) d = `${Math.floor(h / 24)} days`;
  else if (h < 24 * 30 * 2) d = `${Math.floor(h / 24 / 7)} weeks`;
  else if (h < 24 * 365 * 2) d = `${Math.floor(h / 24 / 30)} months`;
  else d = `${Math.floor(h / 24 / 365)} years`;
  return d;
}

export const shortId = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] + 3)))
      .join('')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}
