// The bar a trained model must clear on held-out people (from the training
// issue), checked against a model row of `npm run eval`.

export const BAR = [
  { key: 'faceFound', label: 'face found', op: '>=', threshold: 0.95, format: (v) => `${(100 * v).toFixed(1)} %` },
  { key: 'identityDistance', label: 'identity distance', op: '<=', threshold: 0.5, format: (v) => v.toFixed(3) },
  { key: 'lipStd', label: 'lip-opening std', op: '>=', threshold: 0.015, format: (v) => v.toFixed(4) },
  { key: 'syncZ', label: 'sync z', op: '>=', threshold: 1.5, format: (v) => v.toFixed(2) },
];

/** One verdict per bar line; an undefined value (NaN) fails. */
export function checkBar(row) {
  return BAR.map((b) => {
    const value = row[b.key];
    const pass = Number.isFinite(value) && (b.op === '>=' ? value >= b.threshold : value <= b.threshold);
    return { key: b.key, label: b.label, value, threshold: b.threshold, op: b.op, pass, text: `${b.label} ${Number.isFinite(value) ? b.format(value) : 'n/a'} ${b.op} ${b.format(b.threshold)}` };
  });
}
