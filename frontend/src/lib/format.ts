export function formatBytes(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '—';
  const units = ['B', 'kB', 'MB', 'GB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function formatMl(v: number | null): string {
  if (v == null) return '';
  return v >= 100 ? `${v.toFixed(0)} mL` : v >= 10 ? `${v.toFixed(1)} mL` : `${v.toFixed(2)} mL`;
}

export function formatTime(iso?: string): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** A file name the API accepts: letters, digits, space and . _ - ( ). */
export function safeFilename(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._\- ()]/g, '_').replace(/\.{2,}/g, '.').replace(/^[^A-Za-z0-9]+/, '');
  return (cleaned || 'upload').slice(-128);
}

/** Messages read as sentences: a capital first letter and a full stop. */
export function asSentence(message: string): string {
  const t = message.trim();
  if (!t) return t;
  const first = t[0].toUpperCase() + t.slice(1);
  return /[.!?…]$/.test(first) ? first : `${first}.`;
}
